// zap_handler.h - the ZAP handler (ZeroMQ RFC 27) of policerd's CURVE event stream: it answers
// libzmq's authentication requests on inproc://zeromq.zap.01, on a thread of its own, and lets in
// only subscribers whose public key is on the allow-list. Everything else is refused: unknown
// keys, other mechanisms, malformed requests.
#pragma once

#include "common/result.h"

#include <zmq.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace policer::daemon {

class ZapHandler {
public:
    struct Counters {
        uint64_t accepted = 0;
        uint64_t refused = 0;   // unknown key or mechanism
        uint64_t malformed = 0; // requests that broke RFC 27 (also refused)
    };

    // Binds the ZAP endpoint in `ctx` and starts answering; `allowed_z85` are the subscribers'
    // public keys (40-character Z85, as validated by curve::read_client_dir). Must be running
    // before a CURVE server socket of `ctx` binds: without a handler libzmq lets everyone in.
    static Result<std::unique_ptr<ZapHandler>> start(zmq::context_t &ctx,
                                                     const std::vector<std::string> &allowed_z85);
    // Stops the thread and joins it.
    ~ZapHandler();
    ZapHandler(const ZapHandler &) = delete;
    ZapHandler &operator=(const ZapHandler &) = delete;

    Counters counters() const;

private:
    using Key = std::array<uint8_t, 32>;
    ZapHandler(zmq::socket_t zap, zmq::socket_t stop_rx, zmq::socket_t stop_tx,
               std::set<Key> allowed);
    void loop();
    // Reads one request and answers it.
    void answer_one();
    void log_refusal(const std::string &why);

    zmq::socket_t zap_;     // the handler thread's
    zmq::socket_t stop_rx_; // the handler thread's
    zmq::socket_t stop_tx_; // the owner's
    const std::set<Key> allowed_;
    std::atomic<uint64_t> accepted_{0}, refused_{0}, malformed_{0};
    uint64_t logged_refusals_ = 0; // handler thread only
    int64_t last_log_ms_ = 0;      // handler thread only
    std::thread thread_;
};

} // namespace policer::daemon
