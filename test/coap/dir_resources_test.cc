// --resource-dir semantics through the Endpoint with a fake store and the
// fake clock: files as resources (content-format from the name), PUT, POST
// and DELETE reaching the store, every escape refused with 4.03 and nothing
// written, changes on disk notifying observers, the limits. Also Observe on
// FETCH (RFC 8132 2.4) and a directory of 10,000 runtime resources.
#include "coap/dir_resources.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>

#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

// A directory in memory. links: names that are symbolic links (never
// followed: a path through one is kOther, like the real store says).
class FakeStore final : public ResourceStore {
 public:
  std::map<std::string, std::string> files;
  std::set<std::string> dirs{""};
  std::set<std::string> links;
  std::vector<std::string> touched;  // every path written or removed

  EntryKind kind(std::string_view p) override {
    const std::string path(p);
    for (std::size_t i = path.find('/'); i != std::string::npos; i = path.find('/', i + 1))
      if (links.count(path.substr(0, i))) return EntryKind::kOther;
    if (links.count(path)) return EntryKind::kOther;
    if (files.count(path)) return EntryKind::kFile;
    if (dirs.count(path)) return EntryKind::kDirectory;
    return EntryKind::kMissing;
  }
  StoreResult read(std::string_view p, std::size_t max, std::vector<uint8_t>* out) override {
    if (kind(p) != EntryKind::kFile) return {StoreCode::kMissing, "missing"};
    const std::string& v = files[std::string(p)];
    if (v.size() > max) return {StoreCode::kTooLarge, "too large"};
    out->assign(v.begin(), v.end());
    return {};
  }
  StoreResult replace(std::string_view p, std::span<const uint8_t> v) override {
    if (StoreResult r = writable(p); !r) return r;
    files[std::string(p)] = std::string(v.begin(), v.end());
    return {};
  }
  StoreResult create(std::string_view p, std::span<const uint8_t> v) override {
    if (files.count(std::string(p))) return {StoreCode::kExists, "exists"};
    return replace(p, v);
  }
  StoreResult remove(std::string_view p) override {
    if (kind(p) != EntryKind::kFile) return {StoreCode::kRefused, "not a file"};
    touched.emplace_back(p);
    files.erase(std::string(p));
    return {};
  }
  StoreResult list(std::string_view p,
                   std::vector<std::pair<std::string, EntryKind>>* out) override {
    if (kind(p) != EntryKind::kDirectory) return {StoreCode::kMissing, "no directory"};
    const std::string prefix = p.empty() ? "" : std::string(p) + "/";
    auto child = [&](const std::string& name, EntryKind k) {
      if (name.size() > prefix.size() && name.starts_with(prefix) &&
          name.find('/', prefix.size()) == std::string::npos)
        out->emplace_back(name.substr(prefix.size()), k);
    };
    for (const auto& [name, v] : files) child(name, EntryKind::kFile);
    for (const auto& d : dirs) child(d, EntryKind::kDirectory);
    for (const auto& l : links) child(l, EntryKind::kOther);
    return {};
  }

 private:
  StoreResult writable(std::string_view p) {
    const std::string path(p);
    const std::size_t slash = path.rfind('/');
    if (kind(path) == EntryKind::kOther || kind(path) == EntryKind::kDirectory ||
        kind(slash == std::string::npos ? "" : path.substr(0, slash)) != EntryKind::kDirectory)
      return {StoreCode::kRefused, "refused"};
    touched.push_back(path);
    return {};
  }
};

class DirResourcesTest : public EndpointTest {
 protected:
  void load(std::size_t max_size = 64) {
    tree_ = std::make_unique<DirTree>(store, max_size);
    DirTree::Scan scan;
    tree_->scan(
        "",
        [&](std::unique_ptr<Resource> r) {
          dir.add(std::move(r));
          return Status{};
        },
        &scan);
    skipped = scan.skipped;
    dir.set_fallback(
        std::make_unique<DirFallback>(store, dir, config.max_user_resources, max_size));
  }
  Decoded con(Code method, std::vector<Opt> opts, std::string_view payload = {}) {
    const uint16_t mid = ++mid_;
    udp_in(kUdpPeer, udp_msg(Type::kCon, method, mid, tok({0x31, uint8_t(mid)}), opts, payload));
    return one_udp();
  }
  Decoded con(Code method, std::string_view path, std::string_view payload = {}) {
    return con(method, path_opts(path), payload);
  }
  DirTree::Scan refresh(std::string_view rel) {
    DirTree::Scan s;
    tree_->refresh(ep(), rel, now, &s);
    return s;
  }
  void observe(std::string_view path, uint8_t t) {
    udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, ++mid_, tok({t}),
                             path_opts(path) + opt_uint(opt::kObserve, 0)));
    ASSERT_TRUE(one_udp().has(opt::kObserve));
  }

  FakeStore store;
  std::vector<std::string> skipped;
  std::unique_ptr<DirTree> tree_;
  uint16_t mid_ = 1000;
};

TEST(DirContentFormat, FromTheExtension) {
  EXPECT_EQ(content_format_for_file("a/b.txt"), 0u);
  EXPECT_EQ(content_format_for_file("b.json"), 50u);
  EXPECT_EQ(content_format_for_file("b.cbor"), 60u);
  EXPECT_EQ(content_format_for_file("b.xml"), 41u);
  EXPECT_EQ(content_format_for_file("b.senml.json"), 110u);
  EXPECT_EQ(content_format_for_file("b.senml.cbor"), 112u);
  EXPECT_EQ(content_format_for_file("b.link"), 40u);
  EXPECT_EQ(content_format_for_file("b.bin"), 42u);
  EXPECT_EQ(content_format_for_file("a.txt/b"), 42u);
  EXPECT_EQ(content_format_for_file("x/.txt"), 42u);
  EXPECT_EQ(*extension_for_format(110), ".senml.json");
  EXPECT_EQ(*extension_for_format(42), "");
  EXPECT_FALSE(extension_for_format(11542));
}

TEST_F(DirResourcesTest, FilesAreResourcesAtTheirRelativePath) {
  store.dirs.insert("sensors");
  store.files["sensors/temp.txt"] = "21.5";
  store.files["sensors/all.senml.json"] = "[]";
  store.files["big.bin"] = std::string(65, 'x');
  store.files[".coapd-tmp-1-1"] = "half";
  store.links.insert("escape.txt");
  load();
  const Decoded r = con(codes::kGet, "/sensors/temp.txt");
  EXPECT_EQ(r.code, codes::kContent);
  EXPECT_EQ(r.body(), "21.5");
  EXPECT_EQ(r.uint(opt::kContentFormat), 0u);
  EXPECT_TRUE(r.has(opt::kETag));
  EXPECT_EQ(con(codes::kGet, "/sensors/all.senml.json").uint(opt::kContentFormat), 110u);
  EXPECT_EQ(dir.find("/sensors/temp.txt")->source(), ResourceSource::kDir);
  EXPECT_EQ(dir.user_count(), 2u);
  EXPECT_EQ(skipped, std::vector<std::string>{"big.bin: larger than --max-resource-size"});
  EXPECT_EQ(con(codes::kGet, "/big.bin").code, codes::kNotFound);
  EXPECT_EQ(con(codes::kGet, "/.coapd-tmp-1-1").code, codes::kNotFound);
  const Decoded wk = con(codes::kGet, "/.well-known/core");
  EXPECT_NE(wk.body().find("</sensors/temp.txt>;ct=0;obs"), std::string::npos) << wk.body();
}

TEST_F(DirResourcesTest, PutReplacesDeleteRemovesPostCreates) {
  store.dirs.insert("d");
  store.files["d/v.txt"] = "one";
  load();
  const Decoded put = con(codes::kPut, "/d/v.txt", "two");
  EXPECT_EQ(put.code, codes::kChanged);
  EXPECT_EQ(store.files["d/v.txt"], "two");
  EXPECT_EQ(con(codes::kGet, "/d/v.txt").body(), "two");
  // The name fixes the content-format.
  EXPECT_EQ(con(codes::kPut, path_opts("/d/v.txt") + opt_uint(opt::kContentFormat, 50), "{}").code,
            codes::kUnsupportedContentFormat);

  const Decoded post = con(codes::kPost, path_opts("/d") + opt_uint(opt::kContentFormat, 50), "{}");
  EXPECT_EQ(post.code, codes::kCreated);
  std::string location;
  for (const auto& [n, v] : post.options)
    if (n == opt::kLocationPath) location += "/" + string_of(v);
  EXPECT_EQ(location, "/d/1.json");
  EXPECT_EQ(store.files["d/1.json"], "{}");
  const Decoded created = con(codes::kGet, "/d/1.json");
  EXPECT_EQ(created.body(), "{}");
  EXPECT_EQ(created.uint(opt::kContentFormat), 50u);

  const Decoded put_new = con(codes::kPut, "/d/new.txt", "fresh");
  EXPECT_EQ(put_new.code, codes::kCreated);
  EXPECT_EQ(store.files["d/new.txt"], "fresh");
  EXPECT_EQ(con(codes::kGet, "/d/new.txt").body(), "fresh");
  EXPECT_EQ(con(codes::kPut, "/nodir/x.txt", "x").code, codes::kNotFound);

  EXPECT_EQ(con(codes::kDelete, "/d/v.txt").code, codes::kDeleted);
  EXPECT_FALSE(store.files.count("d/v.txt"));
  EXPECT_EQ(con(codes::kGet, "/d/v.txt").code, codes::kNotFound);
}

TEST_F(DirResourcesTest, EscapesAreRefusedAndNothingIsWritten) {
  store.dirs.insert("d");
  store.files["d/v.txt"] = "one";
  store.links.insert("out");       // a link to a directory outside
  store.links.insert("d/pw.txt");  // a link to a file outside
  load();
  const std::vector<std::vector<Opt>> escapes = {
      {opt_str(opt::kUriPath, ".."), opt_str(opt::kUriPath, "etc"),
       opt_str(opt::kUriPath, "passwd")},
      {opt_str(opt::kUriPath, "d"), opt_str(opt::kUriPath, ".."), opt_str(opt::kUriPath, "x")},
      {opt_str(opt::kUriPath, "."), opt_str(opt::kUriPath, "x")},
      {opt_str(opt::kUriPath, "/etc/passwd")},  // an absolute path in one segment
      {opt_str(opt::kUriPath, "d/v.txt")},      // '/' inside a segment
      {opt_str(opt::kUriPath, ""), opt_str(opt::kUriPath, "etc")},
      path_opts("/out/x.txt"),
      path_opts("/out"),
      path_opts("/d/pw.txt"),
  };
  for (const auto& opts : escapes)
    for (Code m : {codes::kGet, codes::kPut, codes::kPost, codes::kDelete, codes::kFetch})
      EXPECT_EQ(con(m, opts, "data").code, codes::kForbidden)
          << int(m.detail()) << " " << opts.size() << " " << string_of(opts[0].value);
  EXPECT_TRUE(store.touched.empty()) << store.touched.front();
  EXPECT_EQ(store.files.size(), 1u);
}

TEST_F(DirResourcesTest, ChangesOnDiskNotifyObservers) {
  store.files["t.txt"] = "20";
  load();
  observe("/t.txt", 7);
  store.files["t.txt"] = "21";
  refresh("t.txt");
  Decoded n = one_udp();
  EXPECT_EQ(n.token, tok({7}));
  EXPECT_EQ(n.body(), "21");
  // The event of coapd's own write (or a touch): same content, no notification.
  refresh("t.txt");
  EXPECT_TRUE(net.datagrams.empty());
  // A PUT from a client notifies too, and its echo from disk does not.
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kPut, 77, tok({0x77}), path_opts("/t.txt"), "22"));
  auto both = take_udp();  // the observer is the same peer: response and notification
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].code, codes::kChanged);
  EXPECT_EQ(both[1].token, tok({7}));
  EXPECT_EQ(both[1].body(), "22");
  EXPECT_EQ(store.files["t.txt"], "22");
  refresh("t.txt");
  EXPECT_TRUE(net.datagrams.empty());
  // New files and directories appear, removed ones go with 4.04 to observers.
  store.dirs.insert("n");
  store.files["n/a.json"] = "{}";
  const DirTree::Scan s = refresh("n");
  EXPECT_EQ(s.directories, std::vector<std::string>{"n"});
  EXPECT_EQ(con(codes::kGet, "/n/a.json").body(), "{}");
  store.files.erase("t.txt");
  const DirTree::Scan gone = refresh("t.txt");
  EXPECT_EQ(gone.gone, std::vector<std::string>{"t.txt"});
  n = one_udp();
  EXPECT_EQ(n.code, codes::kNotFound);
  EXPECT_EQ(n.token, tok({7}));
  EXPECT_FALSE(dir.find("/t.txt"));
  store.files.erase("n/a.json");
  store.dirs.erase("n");
  refresh("n");
  EXPECT_FALSE(dir.find("/n/a.json"));
}

TEST_F(DirResourcesTest, SizeAndCountLimits) {
  config.max_user_resources = 2;
  store.dirs.insert("d");
  store.files["d/a.txt"] = "a";
  load(8);
  EXPECT_EQ(con(codes::kPut, "/d/a.txt", "123456789").code, codes::kRequestEntityTooLarge);
  EXPECT_EQ(con(codes::kPut, "/d/b.txt", "123456789").code, codes::kRequestEntityTooLarge);
  EXPECT_EQ(store.files["d/a.txt"], "a");
  EXPECT_EQ(con(codes::kPost, "/d", "1").code, codes::kCreated);
  const Decoded full = con(codes::kPost, "/d", "2");
  EXPECT_EQ(full.code, codes::kServiceUnavailable);
  EXPECT_NE(full.body().find("--max-resources"), std::string::npos);
  EXPECT_EQ(store.files.size(), 2u);
  // A file grown past the limit on disk is no longer served.
  store.files["d/a.txt"] = "123456789";
  refresh("d/a.txt");
  EXPECT_EQ(con(codes::kGet, "/d/a.txt").code, codes::kNotFound);
}

// RFC 8132 2.4: FETCH with Observe registers; notifications answer the FETCH.
TEST_F(DirResourcesTest, FetchCanBeObserved) {
  store.files["j.json"] = R"({"a":1,"b":2})";
  load();
  const Opt json_ct = opt_uint(opt::kContentFormat, 50);
  udp_in(kUdpPeer,
         udp_msg(Type::kCon, codes::kFetch, 1, tok({9}),
                 path_opts("/j.json") + opt_uint(opt::kObserve, 0) + json_ct, "[\"/a\"]"));
  const Decoded first = one_udp();
  EXPECT_EQ(first.code, codes::kContent);
  EXPECT_EQ(first.body(), R"({"a":1})");
  ASSERT_TRUE(first.has(opt::kObserve));
  EXPECT_EQ(ep().observers_of(dir.find("/j.json")), 1u);
  ASSERT_TRUE(ep().set_resource_value("/j.json", as_bytes(R"({"a":5,"b":2})"), std::nullopt, now));
  const Decoded n = one_udp();
  EXPECT_EQ(n.token, tok({9}));
  EXPECT_EQ(n.body(), R"({"a":5})");
  EXPECT_GT(*n.uint(opt::kObserve), *first.uint(opt::kObserve));
  // A FETCH without Observe registers nothing more.
  EXPECT_EQ(con(codes::kFetch, path_opts("/j.json") + json_ct, "[\"/b\"]").body(), R"({"b":2})");
  EXPECT_EQ(ep().observers_of(dir.find("/j.json")), 1u);
}

// 10,000 runtime resources: each found by a hash lookup, the limit a clear
// error beyond them.
TEST_F(DirResourcesTest, TenThousandRuntimeResources) {
  constexpr int kCount = 10000;
  config.max_user_resources = kCount;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) {
    ResourceSpec s;
    s.path = "/r/" + std::to_string(i);
    s.value = {uint8_t('0' + i % 10)};
    ASSERT_TRUE(ep().add_resource(
        std::make_unique<UserResource>(std::move(s), ResourceSource::kRuntime, 16), now));
  }
  ResourceSpec extra;
  extra.path = "/r/extra";
  const Status st =
      ep().add_resource(std::make_unique<UserResource>(extra, ResourceSource::kRuntime, 16), now);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error(), "there are 10000 user resources already (--max-resources)");
  for (int i = 0; i < kCount; i += 997)
    EXPECT_EQ(con(codes::kGet, "/r/" + std::to_string(i)).body(), std::to_string(i % 10));
  // Linear lookups would make this take seconds (10,000 x 10,000 compares).
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(dir.find("/r/" + std::to_string(i)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(dir.user_count(), std::size_t{kCount});
  ASSERT_TRUE(ep().remove_resource("/r/0", now));
  advance(milliseconds(1));
  EXPECT_EQ(dir.user_count(), std::size_t{kCount - 1});
  EXPECT_EQ(con(codes::kGet, "/r/0").code, codes::kNotFound);
}

}  // namespace
}  // namespace coap
