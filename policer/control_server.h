// control_server.h - the control socket (docs/control.md): a Unix stream socket that only root
// and members of the `policer` group may use, carrying one JSON object per line each way.
//
// Owns its listening socket and its clients behind one epoll fd of its own, which sits in
// policerd's loop: the daemon's one thread calls on_readable() and answers each request through
// the handler synchronously. Everything is bounded: clients, request size, buffered output; a
// client that breaks the protocol or stops reading is disconnected, never waited for.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace policer::daemon {

// Who is on the other end (SO_PEERCRED at connect time).
struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string user; // from NSS; "uid N" when unknown
};

struct ControlOptions {
    std::string path;              // socket path
    std::string group = "policer"; // may connect, besides root (if the group exists)
    size_t max_clients = 32;
    size_t max_request_bytes = 1 << 20;
    size_t max_output_bytes = 8 << 20; // per client; a follower past it loses events
    uint64_t idle_timeout_ms = 60000;  // a client that sends nothing (followers excepted)
};

struct ControlCounters {
    uint64_t connections = 0;
    uint64_t refused_peers = 0; // not root and not in the group
    uint64_t requests = 0;
    uint64_t bad_requests = 0; // not JSON, too long, wrong fields
    uint64_t follow_events_dropped = 0;
};

class ControlServer {
public:
    // What the daemon does with a request: returns the answer's fields ("ok" included). Setting
    // `follow` (with the topics, empty = all) turns the connection into an event stream.
    struct Reply {
        nlohmann::ordered_json body;
        bool follow = false;
        std::vector<std::string> topics;
    };
    using Handler = std::function<Reply(const nlohmann::ordered_json &request, const Peer &peer)>;

    // Creates the socket (replacing a stale one; refusing a path that is not a socket) with mode
    // 0660 and the group's ownership, or 0600 when there is no such group.
    static Result<std::unique_ptr<ControlServer>> listen(const ControlOptions &opts,
                                                         Handler handler);
    ~ControlServer(); // removes the socket file

    int fd() const { return epoll_.get(); }
    // Accepts, reads and answers what is ready; never blocks.
    void on_readable();
    // Disconnects idle clients (call about once a second).
    void tick();

    // Sends an event to every follower of `topic` (bounded: a slow one loses it, counted).
    void broadcast(const std::string &topic, const nlohmann::ordered_json &doc);
    bool has_followers() const { return followers_ > 0; }

    const ControlCounters &counters() const { return counters_; }
    const std::string &path() const { return opts_.path; }

    // Whether the user `uid` (primary group `gid`) may use the socket: root, or a member of
    // `group`. Exposed for tests.
    static bool permitted(uid_t uid, gid_t gid, const std::string &group);

private:
    struct Client {
        UniqueFd fd;
        Peer peer;
        std::string in, out;
        bool follow = false;
        std::vector<std::string> topics;
        bool closing = false; // flush `out`, then close
        uint64_t last_ms = 0;
    };

    ControlServer(ControlOptions opts, Handler handler, UniqueFd listen_fd, UniqueFd epoll_fd);
    void accept_clients();
    void on_client(int fd, uint32_t events);
    void handle_line(Client &c, const std::string &line);
    void send(Client &c, const nlohmann::ordered_json &doc);
    void flush_out(Client &c);
    void drop(int fd);

    ControlOptions opts_;
    Handler handler_;
    UniqueFd listen_;
    UniqueFd epoll_;
    std::map<int, Client> clients_;
    size_t followers_ = 0;
    uint64_t now_ms_ = 0;
    ControlCounters counters_;
};

} // namespace policer::daemon
