// Lock rules the compiler checks: clang's -Wthread-safety annotations (empty
// under GCC), an annotated mutex for coapd's own locks, and lwIP's core lock
// as a capability, so that "REQUIRES core lock" is a checked contract rather
// than a comment.
//
//   GUARDED_BY(mu)    on a field: read or written only with mu held
//   REQUIRES(mu)      on a function: its caller holds mu
//   EXCLUDES(mu)      on a function: its caller does not hold mu (it takes it)
//   ACQUIRE / RELEASE on functions that take and release a capability
//
// lwIP calls its callbacks with the core lock held, from C: a callback
// starts with assume_core_locked(), which asserts it and tells the analysis.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define COAPD_TSA(x) __attribute__((x))
#else
#define COAPD_TSA(x)
#endif

#define CAPABILITY(name) COAPD_TSA(capability(name))
#define SCOPED_CAPABILITY COAPD_TSA(scoped_lockable)
#define GUARDED_BY(x) COAPD_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) COAPD_TSA(pt_guarded_by(x))
#define REQUIRES(...) COAPD_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) COAPD_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) COAPD_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) COAPD_TSA(release_capability(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) COAPD_TSA(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS COAPD_TSA(no_thread_safety_analysis)

namespace lwip_tap {

// A std::mutex the analysis knows.
class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { m_.lock(); }
  void unlock() RELEASE() { m_.unlock(); }

 private:
  std::mutex m_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& m) ACQUIRE(m) : m_(m) { m_.lock(); }
  ~MutexLock() RELEASE() { m_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& m_;
};

// A condition variable for Mutex. Waiting releases the mutex and takes it
// again before returning (the caller holds it throughout as far as the
// analysis is concerned, which is the contract that matters).
class CondVar {
 public:
  void wait(Mutex& m) REQUIRES(m) { cv_.wait(m); }
  template <typename Clock, typename Dur>
  void wait_until(Mutex& m, std::chrono::time_point<Clock, Dur> t) REQUIRES(m) {
    cv_.wait_until(m, t);
  }
  void notify_one() { cv_.notify_one(); }

 private:
  std::condition_variable_any cv_;
};

// lwIP's core lock (LOCK_TCPIP_CORE), as a capability: `REQUIRES(core_lock)`.
// It has no state; CoreLock (lwip_tap/lwip.h) takes the real lock.
class CAPABILITY("mutex") CoreLockCapability {};
extern CoreLockCapability core_lock;

}  // namespace lwip_tap
