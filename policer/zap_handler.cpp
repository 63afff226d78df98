// zap_handler.cpp - see zap_handler.h. RFC 27: a request is version "1.0", request id, domain,
// address, routing id, mechanism, then the mechanism's credentials (CURVE: the client's 32-byte
// public key); the reply is version, request id, status code, status text, user id, metadata.
#include "policer/zap_handler.h"

#include <pthread.h>
#include <zmq.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstring>

namespace policer::daemon {
namespace {

constexpr const char *kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char *kStopEndpoint = "inproc://policer-zap-stop";
// A request has 7 frames for CURVE; each is short. Anything past these bounds is malformed
// (and still read to its end, so that the REP socket can answer it).
constexpr size_t kMaxFrames = 16;
constexpr size_t kMaxFrameBytes = 512;
// Refusals are logged at most this often (a scanner must not flood the log); all are counted.
constexpr int64_t kLogEveryMs = 10000;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string z85(const uint8_t *key) {
    char out[41] = {};
    if (!zmq_z85_encode(out, key, 32)) return "?";
    return out;
}

} // namespace

Result<std::unique_ptr<ZapHandler>> ZapHandler::start(zmq::context_t &ctx,
                                                      const std::vector<std::string> &allowed_z85) {
    std::set<Key> allowed;
    for (const auto &k : allowed_z85) {
        Key bin{};
        if (k.size() != 40 || !zmq_z85_decode(bin.data(), k.c_str()))
            return Error{"not a Z85 public key: '" + k + "'"};
        allowed.insert(bin);
    }
    if (allowed.empty()) return Error{"no subscriber key is allowed"};
    try {
        // Sockets made here and handed to the thread: std::thread's start is the full memory
        // barrier libzmq asks for when a socket changes threads.
        zmq::socket_t zap(ctx, zmq::socket_type::rep);
        zap.set(zmq::sockopt::linger, 0);
        zap.bind(kZapEndpoint);
        zmq::socket_t rx(ctx, zmq::socket_type::pair), tx(ctx, zmq::socket_type::pair);
        rx.set(zmq::sockopt::linger, 0);
        tx.set(zmq::sockopt::linger, 0);
        rx.bind(kStopEndpoint);
        tx.connect(kStopEndpoint);
        std::unique_ptr<ZapHandler> h(
            new ZapHandler(std::move(zap), std::move(rx), std::move(tx), std::move(allowed)));
        h->thread_ = std::thread([p = h.get()] { p->loop(); });
        return h;
    } catch (const zmq::error_t &e) {
        return Error{std::string("ZAP handler: ") + e.what()};
    }
}

ZapHandler::ZapHandler(zmq::socket_t zap, zmq::socket_t stop_rx, zmq::socket_t stop_tx,
                       std::set<Key> allowed)
    : zap_(std::move(zap)), stop_rx_(std::move(stop_rx)), stop_tx_(std::move(stop_tx)),
      allowed_(std::move(allowed)) {}

ZapHandler::~ZapHandler() {
    if (thread_.joinable()) {
        try {
            stop_tx_.send(zmq::str_buffer("stop"), zmq::send_flags::none);
        } catch (const zmq::error_t &) {
            // The context is going away: the thread's poll ends with ETERM.
        }
        thread_.join();
    }
}

ZapHandler::Counters ZapHandler::counters() const {
    return {accepted_.load(), refused_.load(), malformed_.load()};
}

void ZapHandler::loop() {
    // Signals are the event loop's (signalfd). A thread that accepted them would take the
    // process's SIGTERM or SIGHUP and die of it, taking policerd down without a clean stop.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    zmq::pollitem_t items[] = {{zap_.handle(), 0, ZMQ_POLLIN, 0},
                               {stop_rx_.handle(), 0, ZMQ_POLLIN, 0}};
    while (true) {
        try {
            zmq::poll(items, 2, std::chrono::milliseconds(-1));
            if (items[1].revents & ZMQ_POLLIN) break;
            if (items[0].revents & ZMQ_POLLIN) answer_one();
        } catch (const zmq::error_t &e) {
            if (e.num() == ETERM) break;
            if (e.num() == EINTR) continue;
            // Keep answering: while this socket is bound nobody gets in unchecked; if the thread
            // ended, libzmq would let every client in.
            spdlog::error("ZAP handler: {}", e.what());
        } catch (const std::exception &e) {
            spdlog::error("ZAP handler: {}", e.what());
        }
    }
    // Unbound before the thread ends; the owner closes the PUB socket first.
    zap_.close();
    stop_rx_.close();
}

void ZapHandler::answer_one() {
    std::vector<std::string> frames;
    bool malformed = false;
    while (true) {
        zmq::message_t m;
        if (!zap_.recv(m, zmq::recv_flags::none)) return;
        if (frames.size() < kMaxFrames && m.size() <= kMaxFrameBytes)
            frames.emplace_back(static_cast<const char *>(m.data()), m.size());
        else
            malformed = true;
        if (!m.more()) break;
    }
    std::string status = "400", text = "refused", user;
    if (malformed || frames.size() < 6 || frames[0] != "1.0") {
        ++malformed_;
        ++refused_;
        status = "500";
        text = "malformed request";
        log_refusal("malformed ZAP request");
    } else if (frames[5] != "CURVE" || frames.size() != 7 || frames[6].size() != 32) {
        ++refused_;
        log_refusal("mechanism " + frames[5] + " from " + frames[3]);
    } else {
        Key key{};
        std::memcpy(key.data(), frames[6].data(), key.size());
        if (allowed_.count(key)) {
            ++accepted_;
            status = "200";
            text = "OK";
            user = z85(key.data());
            spdlog::debug("event stream: subscriber {} from {} allowed", user, frames[3]);
        } else {
            ++refused_;
            log_refusal("unknown key " + z85(key.data()) + " from " + frames[3]);
        }
    }
    const std::string id = frames.size() > 1 ? frames[1] : std::string();
    zap_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(id), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(status), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(text), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(user), zmq::send_flags::sndmore);
    zap_.send(zmq::message_t(), zmq::send_flags::none); // no metadata
}

void ZapHandler::log_refusal(const std::string &why) {
    ++logged_refusals_;
    const int64_t now = now_ms();
    if (last_log_ms_ && now - last_log_ms_ < kLogEveryMs) return;
    spdlog::warn("event stream: subscriber refused ({}); {} refusal(s) since the last report", why,
                 logged_refusals_);
    logged_refusals_ = 0;
    last_log_ms_ = now;
}

} // namespace policer::daemon
