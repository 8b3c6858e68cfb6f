#include "daemon/coapd/resource_commands.h"

#include "coap/user_resource.h"
#include "daemon/control/codec.h"
#include "daemon/control/messages.h"

namespace coapd {
namespace {

using nlohmann::json;

// What a resource that is not a UserResource allows, as "get|put".
std::string builtin_methods(const coap::Resource& r) {
  coap::MethodSet set = 0;
  for (unsigned d = 1; d <= 7; ++d)
    if (r.allows(coap::Code(0, d))) set |= coap::method_bit(coap::Code(0, d));
  return coap::methods_text(set);
}

control::ResourceEntry entry_of(const coap::Endpoint& ep, const coap::Resource& r) {
  control::ResourceEntry e;
  e.path = r.path();
  e.observable = r.observable();
  e.observers = ep.observers_of(&r);
  e.source = coap::source_name(r.source());
  if (const auto* u = dynamic_cast<const coap::UserResource*>(&r)) {
    const coap::ResourceSpec& s = u->spec();
    e.ct = s.ct;
    e.methods = coap::methods_text(s.methods);
    e.size = s.value.size();
    e.etag = control::hex_encode(u->etag());
    e.rt = s.rt;
    e.if_ = s.if_;
    e.title = s.title;
    e.delay_ms = s.delay_ms;
    e.max_age = s.max_age;
    return e;
  }
  e.methods = builtin_methods(r);
  for (const auto& [name, value] : r.attributes()) {
    auto unquoted = [&v = value] {
      return v.size() >= 2 && v.front() == '"' ? v.substr(1, v.size() - 2) : v;
    };
    if (name == "ct") e.ct = static_cast<uint32_t>(std::stoul(value));
    if (name == "rt") e.rt = unquoted();
    if (name == "title") e.title = unquoted();
  }
  return e;
}

template <typename T>
std::optional<T> arguments(const json& request, const Responder& r) {
  coap::Result<T> args = T::decode(request);
  if (args) return std::move(*args);
  r.error("malformed request: " + args.error());
  return std::nullopt;
}

// Runs fn(endpoint, now) -> coap::Status on the engine thread and answers
// {} or its error.
template <typename Fn>
void change_on_engine(CommandContext& ctx, Responder r, Fn fn) {
  LoopPoster& poster = ctx.poster;
  ctx.engine.post([&poster, r, fn = std::move(fn)](coap::Endpoint& ep, coap::TimePoint now) {
    coap::Status st = fn(ep, now);
    poster.post([r, st = std::move(st)] {
      if (!st) return r.error(st.error());
      r.ok(json::object());
    });
  });
}

coap::Result<coap::ResourceSpec> spec_of(control::ResourceAddArgs a, std::size_t max_size) {
  coap::ResourceSpec s;
  s.path = std::move(a.path);
  s.ct = a.ct.value_or(0);
  s.rt = std::move(a.rt);
  s.if_ = std::move(a.if_);
  s.title = std::move(a.title);
  s.sz = a.sz;
  s.observable = a.obs;
  if (!a.methods.empty()) {
    auto m = coap::parse_methods(a.methods);
    if (!m) return coap::error("methods: ", m.error());
    s.methods = *m;
  }
  s.value = std::move(a.value);
  s.delay_ms = a.delay_ms;
  s.max_age = a.max_age;
  if (coap::Status st = coap::check_resource_spec(s); !st) return std::move(st).take_error();
  if (s.value.size() > max_size)
    return coap::error("the value (", std::to_string(s.value.size()),
                       " bytes) is larger than --max-resource-size (", std::to_string(max_size),
                       " bytes)");
  return s;
}

}  // namespace

void handle_resource_list(CommandContext& ctx, const json&, Responder r) {
  LoopPoster& poster = ctx.poster;
  ctx.engine.post([&poster, r](coap::Endpoint& ep, coap::TimePoint) {
    control::ResourceListResult list;
    for (const auto& res : ep.resources().all()) list.resources.push_back(entry_of(ep, *res));
    poster.post([r, j = list.encode()]() mutable { r.ok(std::move(j)); });
  });
}

void handle_resource_add(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::ResourceAddArgs>(request, r);
  if (!args) return;
  const std::size_t max_size = ctx.cfg.max_resource_size;
  auto spec = spec_of(std::move(*args), max_size);
  if (!spec) return r.error(spec.error());
  change_on_engine(
      ctx, r, [spec = std::move(*spec), max_size](coap::Endpoint& ep, coap::TimePoint now) {
        return ep.add_resource(
            std::make_unique<coap::UserResource>(spec, coap::ResourceSource::kRuntime, max_size),
            now);
      });
}

void handle_resource_set(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::ResourceSetArgs>(request, r);
  if (!args) return;
  change_on_engine(ctx, r, [a = std::move(*args)](coap::Endpoint& ep, coap::TimePoint now) {
    return ep.set_resource_value(a.path, a.value, a.ct, now);
  });
}

void handle_resource_delete(CommandContext& ctx, const json& request, Responder r) {
  auto args = arguments<control::ResourceDeleteArgs>(request, r);
  if (!args) return;
  change_on_engine(ctx, r, [path = args->path](coap::Endpoint& ep, coap::TimePoint now) {
    return ep.remove_resource(path, now);
  });
}

}  // namespace coapd
