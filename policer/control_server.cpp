// control_server.cpp - the control socket: permissions, framing, bounds.
#include "policer/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

namespace policer::daemon {
namespace {

uint64_t mono_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

std::optional<gid_t> group_id(const std::string &name) {
    if (name.empty()) return std::nullopt;
    std::vector<char> buf(16384);
    group g{};
    group *res = nullptr;
    if (getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &res) != 0 || !res)
        return std::nullopt;
    return g.gr_gid;
}

std::optional<std::string> user_name_of(uid_t uid) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd *res = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || !res) return std::nullopt;
    return std::string(pw.pw_name);
}

// The stale socket of an earlier policerd is replaced; a live one (something answers) is not.
Status clear_path(const std::string &path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return Ok{};
        return Error::from_errno("cannot check " + path);
    }
    if (!S_ISSOCK(st.st_mode)) return Error{path + " exists and is not a socket; not replacing it"};
    UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    if (probe && connect(probe.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0)
        return Error{path + " is in use by a running policerd"};
    if (unlink(path.c_str()) != 0) return Error::from_errno("cannot remove the stale " + path);
    return Ok{};
}

} // namespace

bool ControlServer::permitted(uid_t uid, gid_t gid, const std::string &group) {
    if (uid == 0) return true;
    auto g = group_id(group);
    if (!g) return false;
    if (gid == *g) return true;
    auto name = user_name_of(uid);
    if (!name) return false;
    int n = 64;
    std::vector<gid_t> groups(static_cast<size_t>(n));
    if (getgrouplist(name->c_str(), gid, groups.data(), &n) < 0) {
        if (n <= 0 || n > 65536) return false;
        groups.resize(static_cast<size_t>(n));
        if (getgrouplist(name->c_str(), gid, groups.data(), &n) < 0) return false;
    }
    for (int i = 0; i < n; ++i)
        if (groups[static_cast<size_t>(i)] == *g) return true;
    return false;
}

ControlServer::ControlServer(ControlOptions opts, Handler handler, UniqueFd listen_fd,
                             UniqueFd epoll_fd)
    : opts_(std::move(opts)), handler_(std::move(handler)), listen_(std::move(listen_fd)),
      epoll_(std::move(epoll_fd)) {}

ControlServer::~ControlServer() {
    if (listen_) unlink(opts_.path.c_str());
}

Result<std::unique_ptr<ControlServer>> ControlServer::listen(const ControlOptions &opts,
                                                             Handler handler) {
    sockaddr_un sa{};
    if (opts.path.empty() || opts.path[0] != '/' || opts.path.size() >= sizeof(sa.sun_path))
        return Error{"the control socket path must be absolute and shorter than " +
                     std::to_string(sizeof(sa.sun_path)) + " bytes: '" + opts.path + "'"};
    // The directory: created for the daemon if missing (root's, group-readable to the group).
    const std::string dir = opts.path.substr(0, opts.path.rfind('/'));
    auto gid = group_id(opts.group);
    if (!dir.empty()) {
        if (mkdir(dir.c_str(), 0750) == 0) {
            if (gid && chown(dir.c_str(), 0, *gid) != 0)
                return Error::from_errno("cannot give " + dir + " to group " + opts.group);
        } else if (errno != EEXIST) {
            return Error::from_errno("cannot create " + dir);
        }
    }
    if (auto st = clear_path(opts.path); !st) return st.error();

    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("socket(AF_UNIX)");
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, opts.path.c_str(), opts.path.size());
    if (bind(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0)
        return Error::from_errno("cannot bind the control socket " + opts.path);
    // Until these two calls the file has the umask's mode; a peer connecting in that instant
    // still meets the credential check on accept.
    if (chmod(opts.path.c_str(), gid ? 0660 : 0600) != 0 ||
        (gid && chown(opts.path.c_str(), 0, *gid) != 0)) {
        int err = errno;
        unlink(opts.path.c_str());
        return Error::from_errno("cannot set the mode of " + opts.path, err);
    }
    if (::listen(fd.get(), 64) != 0) {
        int err = errno;
        unlink(opts.path.c_str());
        return Error::from_errno("listen on " + opts.path, err);
    }
    if (!gid)
        spdlog::info("control socket {}: no group '{}', so only root may use it", opts.path,
                     opts.group);
    UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
    if (!ep) return Error::from_errno("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd.get();
    if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0)
        return Error::from_errno("epoll_ctl (control socket)");
    return std::unique_ptr<ControlServer>(
        new ControlServer(opts, std::move(handler), std::move(fd), std::move(ep)));
}

void ControlServer::on_readable() {
    now_ms_ = mono_ms();
    epoll_event evs[16];
    int n = epoll_wait(epoll_.get(), evs, 16, 0);
    for (int i = 0; i < n; ++i) {
        if (evs[i].data.fd == listen_.get())
            accept_clients();
        else
            on_client(evs[i].data.fd, evs[i].events);
    }
}

void ControlServer::accept_clients() {
    for (int round = 0; round < 16; ++round) {
        UniqueFd c(accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!c) return;
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) continue;
        if (!permitted(cred.uid, cred.gid, opts_.group)) {
            ++counters_.refused_peers;
            spdlog::warn("control socket: refused uid {} (pid {}): not root and not in group '{}'",
                         cred.uid, cred.pid, opts_.group);
            const std::string msg =
                "{\"ok\":false,\"error\":\"permission denied: policer is controlled by root and "
                "members of the '" +
                opts_.group + "' group\"}\n";
            (void)!write(c.get(), msg.data(), msg.size());
            continue;
        }
        if (clients_.size() >= opts_.max_clients) {
            const char msg[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";
            (void)!write(c.get(), msg, sizeof(msg) - 1);
            continue;
        }
        ++counters_.connections;
        Client cl;
        cl.peer.pid = cred.pid;
        cl.peer.uid = cred.uid;
        cl.peer.gid = cred.gid;
        cl.peer.user = user_name_of(cred.uid).value_or("uid " + std::to_string(cred.uid));
        cl.last_ms = now_ms_;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = c.get();
        if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.get(), &ev) != 0) continue;
        int raw = c.get();
        cl.fd = std::move(c);
        clients_.emplace(raw, std::move(cl));
    }
}

void ControlServer::drop(int fd) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) return;
    if (it->second.follow) --followers_;
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    clients_.erase(it);
}

void ControlServer::on_client(int fd, uint32_t events) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) return;
    Client &c = it->second;
    if (events & EPOLLOUT) {
        flush_out(c);
        if (!clients_.count(fd)) return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        char buf[65536];
        // Bounded per call, so one busy client cannot hold the loop.
        for (int round = 0; round < 8; ++round) {
            ssize_t n = read(fd, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                drop(fd);
                return;
            }
            if (n < 0) break;
            c.last_ms = now_ms_;
            c.in.append(buf, static_cast<size_t>(n));
            size_t start = 0, nl;
            while ((nl = c.in.find('\n', start)) != std::string::npos) {
                std::string line = c.in.substr(start, nl - start);
                start = nl + 1;
                if (c.closing) break;
                handle_line(c, line);
                if (!clients_.count(fd)) return;
            }
            c.in.erase(0, start);
            if (c.in.size() > opts_.max_request_bytes) {
                ++counters_.bad_requests;
                send(c, {{"ok", false},
                         {"error", "request longer than " +
                                       std::to_string(opts_.max_request_bytes) + " bytes"}});
                c.in.clear();
                c.closing = true;
                flush_out(c);
                return;
            }
        }
    }
}

void ControlServer::handle_line(Client &c, const std::string &line) {
    if (line.empty() || line == "\r") return;
    ++counters_.requests;
    auto req = nlohmann::ordered_json::parse(line, nullptr, false);
    if (req.is_discarded() || !req.is_object()) {
        ++counters_.bad_requests;
        send(c, {{"ok", false}, {"error", "a request is one JSON object per line"}});
        return;
    }
    nlohmann::ordered_json id = req.contains("id") ? req["id"] : nlohmann::ordered_json();
    if (!req.contains("op") || !req["op"].is_string()) {
        ++counters_.bad_requests;
        nlohmann::ordered_json r = {{"ok", false}, {"error", "the request has no \"op\" string"}};
        if (!id.is_null()) r["id"] = id;
        send(c, r);
        return;
    }
    Reply reply;
    try {
        reply = handler_(req, c.peer);
    } catch (const std::exception &e) {
        // A request must never take policerd down: answer with what went wrong.
        ++counters_.bad_requests;
        reply.body = {{"ok", false}, {"error", std::string("bad request: ") + e.what()}};
    }
    if (!reply.body.is_object()) reply.body = {{"ok", false}, {"error", "no answer"}};
    if (reply.body.value("ok", false) == false && reply.body.value("bad_request", false)) {
        ++counters_.bad_requests;
        reply.body.erase("bad_request");
    }
    if (!id.is_null()) reply.body["id"] = id;
    send(c, reply.body);
    if (reply.follow && !c.follow) {
        c.follow = true;
        c.topics = std::move(reply.topics);
        ++followers_;
    }
}

void ControlServer::send(Client &c, const nlohmann::ordered_json &doc) {
    std::string line = doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    line += '\n';
    if (c.out.size() + line.size() > opts_.max_output_bytes) {
        if (c.follow) {
            ++counters_.follow_events_dropped;
            return;
        }
        c.closing = true; // an answer that cannot be buffered: the client is not reading
        return;
    }
    c.out += line;
    flush_out(c);
}

void ControlServer::flush_out(Client &c) {
    const int fd = c.fd.get();
    while (!c.out.empty()) {
        ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (n <= 0) {
            drop(fd);
            return;
        }
        c.out.erase(0, static_cast<size_t>(n));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
    ev.data.fd = fd;
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
    if (c.out.empty() && c.closing) drop(fd);
}

void ControlServer::tick() {
    now_ms_ = mono_ms();
    std::vector<int> idle;
    for (const auto &[fd, c] : clients_)
        if (!c.follow && now_ms_ - c.last_ms > opts_.idle_timeout_ms) idle.push_back(fd);
    for (int fd : idle)
        drop(fd);
}

void ControlServer::broadcast(const std::string &topic, const nlohmann::ordered_json &doc) {
    if (!followers_) return;
    std::vector<int> fds;
    for (auto &[fd, c] : clients_)
        if (c.follow) fds.push_back(fd);
    for (int fd : fds) {
        auto it = clients_.find(fd);
        if (it == clients_.end()) continue;
        Client &c = it->second;
        if (!c.topics.empty() &&
            std::find(c.topics.begin(), c.topics.end(), topic) == c.topics.end())
            continue;
        send(c, {{"topic", topic}, {"event", doc}});
    }
}

} // namespace policer::daemon
