#include "daemon/coapd/observe_commands.h"

#include <optional>
#include <string>
#include <vector>

#include "coap/endpoint.h"
#include "daemon/coapd/commands.h"
#include "daemon/coapd/results.h"
#include "daemon/control/codec.h"
#include "daemon/control/messages.h"
#include "daemon/control/messages_observe.h"

namespace coapd {
namespace {

using nlohmann::json;

// Asks the engine to deregister `ids`; answers r (when given) with those it
// had, or an error when `named` is one it did not have.
void cancel_on_engine(CommandContext& ctx, std::vector<coap::RequestId> ids,
                      std::optional<Responder> r, std::optional<uint64_t> named) {
  LoopPoster& poster = ctx.poster;
  ctx.engine.post(
      [&poster, ids = std::move(ids), r, named](coap::Endpoint& ep, coap::TimePoint now) {
        control::ObserveCancelResult out;
        for (coap::RequestId id : ids)
          if (ep.cancel_observe(id, now)) out.cancelled.push_back(id);
        if (!r) return;
        poster.post([r, named, out = std::move(out)] {
          if (named && out.cancelled.empty())
            return r->error("no observation " + std::to_string(*named) +
                            " (see coapctl observations), or it is ending already");
          r->ok(out.encode());
        });
      });
}

}  // namespace

void handle_observe(CommandContext& ctx, const json& request, Responder r) {
  coap::Result<control::RequestArgs> args = control::RequestArgs::decode(request);
  if (!args) return r.error("malformed request: " + args.error());
  if (args->method != "GET" && args->method != "FETCH")
    return r.error("observe needs GET or FETCH (RFC 7641, RFC 8132), not " + args->method);
  coap::Result<coap::ClientRequest> creq = client_request(ctx, std::move(*args));
  if (!creq) return r.error(creq.error());
  const coap::RequestId id = ctx.engine.new_request_id();
  ctx.observe_streams.streams.emplace(id, ObserveStreams::Stream{r});
  LoopPoster& poster = ctx.poster;
  auto notified = [&ctx, &poster, id](uint32_t seq, const coap::ClientResult& n) {
    json msg = notification_record(id, seq, n).encode();
    poster.post([&ctx, id, msg = std::move(msg)]() mutable {
      auto it = ctx.observe_streams.streams.find(id);
      if (it == ctx.observe_streams.streams.end()) return;
      ++it->second.notifications;
      const Responder& resp = it->second.responder;
      ctx.control.stream(resp.client(), control::notification_message(resp.id(), std::move(msg)));
    });
  };
  auto done = [&ctx, &poster, id](coap::ClientResult result) {
    control::ObserveResult out{request_result(result), id, 0};
    poster.post([&ctx, id, out = std::move(out)]() mutable {
      auto it = ctx.observe_streams.streams.find(id);
      if (it == ctx.observe_streams.streams.end()) return;
      const Responder resp = it->second.responder;
      out.notifications = it->second.notifications;
      ctx.observe_streams.streams.erase(it);
      resp.ok(out.encode());
    });
  };
  ctx.engine.post_observe(id, std::move(*creq), std::move(notified), std::move(done));
}

void handle_observe_cancel(CommandContext& ctx, const json& request, Responder r) {
  coap::Result<control::ObserveCancelArgs> args = control::ObserveCancelArgs::decode(request);
  if (!args) return r.error("malformed request: " + args.error());
  std::vector<coap::RequestId> ids;
  if (args->observation) {
    ids.push_back(*args->observation);
  } else {
    for (const auto& [id, stream] : ctx.observe_streams.streams)
      if (stream.responder.client() == r.client()) ids.push_back(id);
  }
  cancel_on_engine(ctx, std::move(ids), r, args->observation);
}

void handle_observations(CommandContext& ctx, const json&, Responder r) {
  LoopPoster& poster = ctx.poster;
  ctx.engine.post([&poster, r](coap::Endpoint& ep, coap::TimePoint) {
    control::ObservationsResult out;
    for (const coap::ClientObservationInfo& o : ep.client_observations())
      out.observations.push_back({o.id, o.uri, o.session, o.token.hex(), o.notifications,
                                  o.last_seq, o.registered, o.deregistering});
    poster.post([r, j = out.encode()]() mutable { r.ok(std::move(j)); });
  });
}

void observe_client_gone(CommandContext& ctx, uint64_t client) {
  std::vector<coap::RequestId> ids;
  for (const auto& [id, stream] : ctx.observe_streams.streams)
    if (stream.responder.client() == client) ids.push_back(id);
  if (!ids.empty()) cancel_on_engine(ctx, std::move(ids), std::nullopt, std::nullopt);
}

}  // namespace coapd
