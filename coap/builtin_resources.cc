#include "coap/builtin_resources.h"

#include <ctime>

namespace coap {
namespace {

class RootResource final : public Resource {
 public:
  RootResource() : Resource("/", {{"title", "\"coapd\""}}) {}
  bool allows(Code m) const override { return m == codes::kGet; }
  void handle(const Request&, Response& resp) override {
    resp.content_format = content_format::kTextPlain;
    resp.set_payload("coapd: a CoAP endpoint on lwIP. See /.well-known/core\n");
  }
};

class WellKnownCore final : public Resource {
 public:
  explicit WellKnownCore(const ResourceDirectory& dir)
      : Resource("/.well-known/core", {{"ct", "40"}}), dir_(dir) {}
  bool allows(Code m) const override { return m == codes::kGet; }
  bool answers_multicast() const override { return true; }
  void handle(const Request& req, Response& resp) override {
    std::string_view filter;
    const OptionView* q = req.msg.find(opt::kUriQuery);
    if (q) filter = as_string(q->value());
    resp.content_format = content_format::kLinkFormat;
    resp.set_payload(link_format(dir_, filter));
  }

 private:
  const ResourceDirectory& dir_;
};

class TimeResource final : public Resource {
 public:
  explicit TimeResource(std::function<std::chrono::system_clock::time_point()> clock)
      : Resource("/time", {{"rt", "\"time\""}, {"ct", "0"}, {"obs", ""}}, /*observable=*/true),
        clock_(std::move(clock)) {}
  bool allows(Code m) const override { return m == codes::kGet; }
  Duration notify_interval() const override { return seconds(1); }
  void handle(const Request&, Response& resp) override {
    resp.content_format = content_format::kTextPlain;
    resp.max_age = 1;
    // Formatting costs more than the rest of a request: once per second.
    const std::time_t secs = std::chrono::system_clock::to_time_t(clock_());
    if (secs != formatted_at_) {
      text_ = format_utc(std::chrono::system_clock::from_time_t(secs));
      formatted_at_ = secs;
    }
    resp.set_payload(text_);
  }

 private:
  std::function<std::chrono::system_clock::time_point()> clock_;
  std::time_t formatted_at_ = -1;
  std::string text_;
};

class EchoResource final : public Resource {
 public:
  explicit EchoResource(std::size_t max_size)
      : Resource("/echo", {{"rt", "\"echo\""}, {"obs", ""}}, /*observable=*/true),
        max_size_(max_size) {}
  bool allows(Code m) const override {
    return m == codes::kGet || m == codes::kPut || m == codes::kPost;
  }
  void handle(const Request& req, Response& resp) override {
    if (req.method != codes::kGet) {
      if (req.payload.size() > max_size_) {
        resp.error(codes::kRequestEntityTooLarge, "payload exceeds the /echo limit");
        return;
      }
      stored_.assign(req.payload.begin(), req.payload.end());
      stored_format_ = req.msg.uint_option(opt::kContentFormat);
      resp.code = codes::kChanged;
      notify_changed();
    }
    resp.content_format = stored_format_;
    resp.set_payload(stored_);
  }

 private:
  std::size_t max_size_;
  std::vector<uint8_t> stored_;
  std::optional<uint32_t> stored_format_;
};

class StatusResource final : public Resource {
 public:
  explicit StatusResource(std::function<std::string()> status)
      : Resource("/status", {{"rt", "\"status\""}, {"ct", "50"}}), status_(std::move(status)) {}
  bool allows(Code m) const override { return m == codes::kGet; }
  void handle(const Request&, Response& resp) override {
    resp.content_format = content_format::kJson;
    resp.set_payload(status_ ? status_() : std::string("{}"));
  }

 private:
  std::function<std::string()> status_;
};

}  // namespace

std::string format_utc(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void add_builtin_resources(ResourceDirectory& dir, const BuiltinResourceOptions& options) {
  dir.add(std::make_unique<RootResource>());
  dir.add(std::make_unique<WellKnownCore>(dir));
  dir.add(std::make_unique<TimeResource>(
      options.wall_clock ? options.wall_clock : [] { return std::chrono::system_clock::now(); }));
  dir.add(std::make_unique<EchoResource>(options.max_echo_size));
  dir.add(std::make_unique<StatusResource>(options.status_json));
}

}  // namespace coap
