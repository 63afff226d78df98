// store_flow_test.cpp - stored flows and alerts: every filter operator, time ranges, order and
// limit, refused columns and values, streaming for replay, and rows made from flow-end events.
#include "store/alert_store.h"
#include "store/filter.h"
#include "store/flow_event.h"
#include "store/flow_store.h"
#include "store/schema.h"

#include "store_test_support.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

namespace {

using namespace policer::store;
using store_test::make_flow;
using store_test::TempDir;
using store_test::why;

constexpr int64_t kT0 = 1767225600000; // 2026-01-01T00:00:00Z

// Flows 0..19, flow n ending at kT0 + n seconds.
struct FlowFixture {
    TempDir dir;
    Database db = open_store(dir.file("f.db")).value();
    FlowStore flows{db};
    FlowFixture() {
        for (int64_t n = 0; n < 20; ++n)
            REQUIRE(flows.insert(make_flow(n, kT0 + n * 1000)).ok());
    }

    // The sequence numbers (make_flow's n) of the flows matching, newest first.
    std::vector<int64_t> seqs(const FlowQuery &q) {
        auto rows = flows.query(q);
        REQUIRE_MESSAGE(rows.ok(), why(rows));
        std::vector<int64_t> out;
        for (const StoredFlow &f : *rows)
            out.push_back(f.row.pid.value() - 4000);
        return out;
    }
    std::vector<int64_t> seqs(const std::string &filter) {
        FlowQuery q;
        q.filters.push_back(parse_filter(filter).value());
        q.limit = 0;
        return seqs(q);
    }
};

} // namespace

TEST_CASE("store flows: a stored row reads back field for field") {
    TempDir dir;
    auto db = open_store(dir.file("f.db"));
    REQUIRE(db.ok());
    FlowStore flows(*db);
    FlowRow row = make_flow(7, kT0);
    row.container_id = "3f0c";
    row.container_name = "web";
    row.cgroup_path = "/system.slice/docker-3f0c.scope";
    row.l7_proto = "tls";
    row.start_ms.reset();
    row.uid.reset();
    REQUIRE(flows.insert(row).ok());
    auto got = flows.query({});
    REQUIRE(got.ok());
    REQUIRE(got->size() == 1);
    const FlowRow &r = (*got)[0].row;
    CHECK_FALSE(r.start_ms.has_value());
    CHECK_FALSE(r.uid.has_value());
    CHECK(r.end_ms == kT0);
    CHECK(r.user_name == row.user_name);
    CHECK(r.pid == row.pid);
    CHECK(r.exe == row.exe);
    CHECK(r.container_id == "3f0c");
    CHECK(r.container_name == "web");
    CHECK(r.cgroup_path == row.cgroup_path);
    CHECK(r.l4_proto == "tcp");
    CHECK(r.src_ip == row.src_ip);
    CHECK(r.src_port == row.src_port);
    CHECK(r.dst_ip == row.dst_ip);
    CHECK(r.dst_port == row.dst_port);
    CHECK(r.direction == "egress");
    CHECK(r.l7_proto == "tls");
    CHECK(r.domain == row.domain);
    CHECK(r.action == "allow");
    CHECK(r.rule == row.rule);
    CHECK(r.bytes_in == row.bytes_in);
    CHECK(r.bytes_out == row.bytes_out);
    CHECK(r.packets_in == row.packets_in);
    CHECK(r.packets_out == row.packets_out);
    CHECK(r.event_json == row.event_json);
    CHECK(flows.count().value() == 1);
}

TEST_CASE("store flows: each filter operator, on numbers and on text") {
    FlowFixture f;
    using V = std::vector<int64_t>;
    CHECK(f.seqs("pid == 4005") == V{5});
    CHECK(f.seqs("dst_port != 443") == V{18, 16, 14, 12, 10, 8, 6, 4, 2, 0});
    CHECK(f.seqs("pid < 4003") == V{2, 1, 0});
    CHECK(f.seqs("pid <= 4002") == V{2, 1, 0});
    CHECK(f.seqs("pid > 4017") == V{19, 18});
    CHECK(f.seqs("pid >= 4018") == V{19, 18});
    CHECK(f.seqs("user_name == user1") == V{19, 16, 13, 10, 7, 4, 1});
    CHECK(f.seqs("rule != rule0").size() == 15);
    CHECK(f.seqs("dst_ip glob 192.0.2.1*") == V{19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 1});
    CHECK(f.seqs("exe glob */sshd").size() == 10);
    CHECK(f.seqs("dst_ip > 192.0.2.8") == V{9}); // text compares as text
    // An unknown (NULL) value matches no condition, not even !=.
    CHECK(f.seqs("domain != www.example.com").empty());
    CHECK(f.seqs("domain glob *").size() == 10);

    // Conditions combine with AND.
    FlowQuery both;
    both.filters = {parse_filter("uid == 1001").value(), parse_filter("dst_port == 443").value()};
    CHECK(f.seqs(both) == V{19, 13, 7, 1});
}

TEST_CASE("store flows: time range, newest first, limit") {
    FlowFixture f;
    using V = std::vector<int64_t>;
    FlowQuery q;
    q.since = kT0 + 5000;
    q.until = kT0 + 9000; // half-open: the flow ending at 9 s is not in
    CHECK(f.seqs(q) == V{8, 7, 6, 5});
    q.limit = 2;
    CHECK(f.seqs(q) == V{8, 7});
    FlowQuery recent;
    recent.since = kT0 + 17000;
    CHECK(f.seqs(recent) == V{19, 18, 17});
    FlowQuery all;
    all.limit = 3;
    CHECK(f.seqs(all) == V{19, 18, 17});
}

TEST_CASE("store flows: unknown columns and ill-typed values are refused, and text stays a value") {
    FlowFixture f;
    FlowQuery q;
    q.filters = {Filter{"password", FilterOp::Eq, "x"}};
    auto unknown = f.flows.query(q);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message.find("unknown column \"password\"") != std::string::npos);

    // SQL in a column name is a column that does not exist.
    q.filters = {Filter{"1=1 OR uid", FilterOp::Eq, "0"}};
    CHECK_FALSE(f.flows.query(q).ok());
    // The event is stored, not a column to filter on.
    q.filters = {Filter{"event", FilterOp::Glob, "*"}};
    CHECK_FALSE(f.flows.query(q).ok());

    q.filters = {Filter{"dst_port", FilterOp::Eq, "https"}};
    CHECK(f.flows.query(q).error().message.find("not an integer") != std::string::npos);
    q.filters = {Filter{"dst_port", FilterOp::Glob, "4*"}};
    CHECK(f.flows.query(q).error().message.find("glob needs a text column") != std::string::npos);

    // SQL in a value is only a string that matches nothing.
    q.filters = {Filter{"user_name", FilterOp::Eq, "x' OR '1'='1"}};
    CHECK(f.flows.query(q).value().empty());
    CHECK(f.flows.count().value() == 20);
}

TEST_CASE("store flows: parse_filter reads COLUMN OP VALUE") {
    auto f = parse_filter("dst_port>=443");
    REQUIRE(f.ok());
    CHECK(f->column == "dst_port");
    CHECK(f->op == FilterOp::Ge);
    CHECK(f->value == "443");
    f = parse_filter("  exe glob /usr/bin/*  ");
    REQUIRE(f.ok());
    CHECK(f->op == FilterOp::Glob);
    CHECK(f->value == "/usr/bin/*");
    f = parse_filter("user_name == a<b");
    REQUIRE(f.ok());
    CHECK(f->op == FilterOp::Eq);
    CHECK(f->value == "a<b");
    CHECK(parse_filter("pid<3").value().op == FilterOp::Lt);
    CHECK(parse_filter("pid!=3").value().op == FilterOp::Ne);
    CHECK_FALSE(parse_filter("dst_port 443").ok());
    CHECK_FALSE(parse_filter("== 443").ok());
    CHECK(parse_op("<=").value() == FilterOp::Le);
    CHECK_FALSE(parse_op("=~").ok());
    CHECK(op_text(FilterOp::Glob) == "glob");
}

TEST_CASE("store flows: for_each_since streams the rows oldest first and can stop") {
    FlowFixture f;
    std::vector<int64_t> seen;
    auto status = f.flows.for_each_since(kT0 + 15000, [&](const StoredFlow &flow) {
        seen.push_back(flow.row.pid.value() - 4000);
        return true;
    });
    REQUIRE(status.ok());
    CHECK(seen == std::vector<int64_t>{15, 16, 17, 18, 19});

    seen.clear();
    REQUIRE(f.flows
                .for_each_since(0,
                                [&](const StoredFlow &flow) {
                                    seen.push_back(flow.row.pid.value() - 4000);
                                    return seen.size() < 3;
                                })
                .ok());
    CHECK(seen == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("store alerts: stored, filtered by rule and time, newest first") {
    TempDir dir;
    auto db = open_store(dir.file("a.db"));
    REQUIRE(db.ok());
    AlertStore alerts(*db);
    for (int n = 0; n < 10; ++n) {
        AlertRow a;
        a.time_ms = kT0 + n * 1000;
        a.rule = n % 2 ? "ssh-outside" : "tor-exit";
        a.action = "alert";
        if (n == 3) a.severity = 7;
        a.outcome = "success";
        a.summary = "alert " + std::to_string(n);
        a.event_json = "{\"n\":" + std::to_string(n) + "}";
        REQUIRE(alerts.insert(a).ok());
    }
    CHECK(alerts.count().value() == 10);

    AlertQuery q;
    q.rule = "ssh-outside";
    q.since = kT0 + 2000;
    auto got = alerts.query(q);
    REQUIRE_MESSAGE(got.ok(), why(got));
    REQUIRE(got->size() == 4);
    CHECK((*got)[0].row.summary == "alert 9");
    CHECK((*got)[3].row.summary == "alert 3");
    CHECK((*got)[3].row.severity == 7);
    CHECK_FALSE((*got)[0].row.severity.has_value());
    CHECK((*got)[3].row.event_json == "{\"n\":3}");
    CHECK((*got)[3].row.outcome == "success");

    AlertQuery limited;
    limited.limit = 2;
    limited.until = kT0 + 5000;
    got = alerts.query(limited);
    REQUIRE(got.ok());
    REQUIRE(got->size() == 2);
    CHECK((*got)[0].row.summary == "alert 4");

    AlertQuery bad;
    bad.filters = {Filter{"event", FilterOp::Eq, "x"}};
    CHECK_FALSE(alerts.query(bad).ok());
    bad.filters = {Filter{"severity", FilterOp::Ge, "5"}};
    CHECK(alerts.query(bad).value().size() == 1);
}

TEST_CASE("store flows: a row from a flow-end event") {
    const std::string text = R"({"@timestamp":"2026-01-01T00:00:10.250500Z",
        "event":{"action":"flow-end","duration":2500000000},
        "network":{"transport":"tcp","direction":"ingress","protocol":"http"},
        "source":{"ip":"198.51.100.7","port":51000,"bytes":300,"packets":3,"domain":"peer.example"},
        "destination":{"ip":"10.0.0.2","port":80,"bytes":5000,"packets":6},
        "process":{"pid":812,"executable":"/usr/sbin/nginx"},
        "user":{"id":"33","name":"www-data"},"cgroup":{"path":"/system.slice/nginx.service"},
        "container":{"id":"abc","name":"web"},
        "policer":{"l7":{"host":"site.example"},"verdict":{"action":"allow"}},
        "rule":{"name":"web-in"}})";
    auto row = flow_row_from_event(nlohmann::json::parse(text), text);
    REQUIRE_MESSAGE(row.ok(), why(row));
    CHECK(row->end_ms == kT0 + 10250);
    CHECK(row->start_ms == kT0 + 7750);
    CHECK(row->uid == 33);
    CHECK(row->user_name == "www-data");
    CHECK(row->pid == 812);
    CHECK(row->exe == "/usr/sbin/nginx");
    CHECK(row->cgroup_path == "/system.slice/nginx.service");
    CHECK(row->container_id == "abc");
    CHECK(row->container_name == "web");
    CHECK(row->l4_proto == "tcp");
    CHECK(row->direction == "ingress");
    CHECK(row->l7_proto == "http");
    CHECK(row->domain == "site.example");
    CHECK(row->src_ip == "198.51.100.7");
    CHECK(row->dst_port == 80);
    // Ingress: this host is the destination.
    CHECK(row->bytes_out == 5000);
    CHECK(row->bytes_in == 300);
    CHECK(row->packets_out == 6);
    CHECK(row->packets_in == 3);
    CHECK(row->action == "allow");
    CHECK(row->rule == "web-in");
    CHECK(row->event_json == text);

    // Without an L7 host, the remote address's name.
    auto plain = nlohmann::json::parse(text);
    plain["policer"].erase("l7");
    CHECK(flow_row_from_event(plain, "{}").value().domain == "peer.example");
    // Unknown user: NULL, never uid 0.
    plain.erase("user");
    CHECK_FALSE(flow_row_from_event(plain, "{}").value().uid.has_value());
    plain["@timestamp"] = "yesterday";
    CHECK_FALSE(flow_row_from_event(plain, "{}").ok());

    CHECK(parse_timestamp_ms("2026-01-01T00:00:00.5Z") == kT0 + 500);
    CHECK(parse_timestamp_ms("2026-01-01T00:00:00.123456789Z") == kT0 + 123);
    CHECK_FALSE(parse_timestamp_ms("2026-01-01T00:00:00.1Zjunk").has_value());
}
