// rules_cli_test.cpp - `policer rule check`, `policer rule explain` and `policer fields` as an
// operator uses them: a rules.d directory, a broken file in it, a policerd event to explain,
// and the exit codes scripts rely on. These tests need neither root nor policerd.
#include "harness.h"

#include <doctest/doctest.h>

#include <fstream>
#include <string>

using namespace pltest;

namespace {

void write(const std::string &path, const std::string &text) {
    std::ofstream(path) << text;
}

const char *const kBase = R"(# 10-base.rules
list private = (10.0.0.0/8, 192.168.0.0/16)
rule ssh-root-only {
    when l4.proto == tcp and dst.port == 22 and user.name != root
    action reject
    description "SSH is for root"
}
rule curl-no-private { when process.name == curl and dst.ip in private action deny }
default ingress deny
)";

const char *const kWeb = R"(# 50-web.rules
rule web-api-tls-only {
    priority 10
    when container.name == web and dst.domain glob "*.api.example.com" and dst.port == 443
         and l7.protocol != tls
    action deny
}
)";

// A flow-start as policerd prints it (nested ECS), before dissection.
const char *const kEvent = R"({"@timestamp":"2026-11-24T10:00:00.000000Z",
  "event":{"kind":"event","action":"flow-start","category":["network"]},
  "network":{"transport":"tcp","type":"ipv4","direction":"egress"},
  "source":{"ip":"10.0.0.2","port":40000},
  "destination":{"ip":"10.1.2.3","port":443,"domain":"db.api.example.com"},
  "process":{"pid":4242,"name":"curl","executable":"/usr/bin/curl"},
  "user":{"id":"1000","name":"alice"},"group":{"id":"1000","name":"alice"},
  "container":{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
               "name":"web","runtime":"docker"}})";

} // namespace

TEST_CASE(
    "policer rule check: a rules.d directory in name order, each rule with its tier and reason") {
    TempDir dir;
    write(dir.file("10-base.rules"), kBase);
    write(dir.file("50-web.rules"), kWeb);
    write(dir.file("README"), "not a rule file: ignored\n");
    auto r = run({Binaries::policer(), "rule", "check", dir.path()});
    INFO(r.err);
    REQUIRE(r.status == 0);
    // Priority first: web-api-tls-only (10) before the priority-0 rules, which keep file order.
    const auto web = r.out.find("web-api-tls-only"), ssh = r.out.find("ssh-root-only"),
               curl = r.out.find("curl-no-private");
    REQUIRE(web != std::string::npos);
    REQUIRE(ssh != std::string::npos);
    REQUIRE(curl != std::string::npos);
    CHECK(web < ssh);
    CHECK(ssh < curl);
    CHECK(r.out.find("l7.protocol != tls: known only once nDPI") != std::string::npos);
    CHECK(r.out.find("3 rules in 2 files; default egress allow, ingress deny") !=
          std::string::npos);
    CHECK(r.out.find("policerd resolves user.name: root") != std::string::npos);
    CHECK(r.out.find("policerd resolves dst.domain: *.api.example.com") != std::string::npos);

    auto j = run({Binaries::policer(), "rule", "check", "--json", dir.path()});
    REQUIRE(j.status == 0);
    json doc = json::parse(j.out);
    CHECK(doc["ok"] == true);
    REQUIRE(doc["rules"].size() == 3);
    CHECK(doc["rules"][0]["name"] == "web-api-tls-only");
    CHECK(doc["rules"][0]["enforced_at"] == "L7");
    CHECK(doc["rules"][1]["name"] == "ssh-root-only");
    CHECK(doc["rules"][1]["enforced_at"] == "kernel"); // port 22 is not 443: no overlap
    CHECK(doc["rules"][1]["location"] == dir.file("10-base.rules") + ":3:1");
    // curl's rule could be decided in the kernel, but the L7 rule above it may match the same
    // flows (curl in the web container to the API): it says so.
    CHECK(doc["rules"][2]["tier"] == "kernel");
    CHECK(doc["rules"][2]["enforced_at"] == "L7");
    CHECK(doc["rules"][2]["deferred"].get<std::string>().find("web-api-tls-only") !=
          std::string::npos);
    CHECK(doc["kernel"]["terms"] == 3);
    CHECK(doc["kernel"]["bitmaps"] > 2);
    CHECK(doc["kernel"]["resolved_by_policerd"]["container.name"] == json::array({"web"}));
}

TEST_CASE("policer rule check: one broken file means nothing is loaded, with file:line:col and "
          "suggestions") {
    TempDir dir;
    write(dir.file("10-base.rules"), kBase);
    write(dir.file("20-typo.rules"),
          "rule bad {\n    when proces.name == curl and dst.port == 70000\n"
          "    action deny\n}\nrule worse { when dst.port == 1 action deni }\n");
    auto r = run({Binaries::policer(), "rule", "check", dir.path()});
    CHECK(r.status == 1);
    CHECK(r.out.empty()); // no rule listing: there is no rule set
    const std::string f = dir.file("20-typo.rules");
    CHECK(r.err.find(f + ":2:10: error: unknown field 'proces.name' (did you mean "
                         "'process.name'?)") != std::string::npos);
    CHECK(r.err.find(f + ":2:46: error: '70000' is not a port") != std::string::npos);
    CHECK(r.err.find(f + ":5:40: error: unknown action 'deni' (did you mean 'deny'?)") !=
          std::string::npos);
    CHECK(r.err.find("nothing would be loaded") != std::string::npos);

    auto j = run({Binaries::policer(), "rule", "check", "--json", dir.path()});
    CHECK(j.status == 1);
    json doc = json::parse(j.out);
    CHECK(doc["ok"] == false);
    CHECK_FALSE(doc.contains("rules"));
    REQUIRE(doc["diagnostics"].size() >= 3);
    CHECK(doc["diagnostics"][0]["file"] == f);
    CHECK(doc["diagnostics"][0]["line"] == 2);
    CHECK(doc["diagnostics"][0]["column"] == 10);
    CHECK(doc["diagnostics"][0]["suggestion"] == "process.name");
}

TEST_CASE("policer rule explain: a policerd event, before and after dissection") {
    TempDir dir;
    write(dir.file("10-base.rules"), kBase);
    write(dir.file("50-web.rules"), kWeb);
    write(dir.file("flow.json"), kEvent);

    // At connect time the L7 rule cannot be decided yet: the verdict waits for it (and curl's
    // deny below it must not be applied first).
    auto r = run({Binaries::policer(), "rule", "explain", dir.path(), "--flow",
                  "@" + dir.file("flow.json"), "--l7-pending", "--json"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    json doc = json::parse(r.out);
    CHECK(doc["verdict"]["kind"] == "pending");
    CHECK(doc["verdict"]["rule"] == "web-api-tls-only");
    const json &preds = doc["rules"][0]["predicates"];
    REQUIRE(preds.size() == 4);
    CHECK(preds[0]["result"] == "true");
    CHECK(preds[1]["result"] == "true");
    CHECK(preds[1]["value"] == "db.api.example.com");
    CHECK(preds[2]["result"] == "true");
    CHECK(preds[3]["result"] == "unknown");

    // Dissected as TLS: the L7 rule is false, and curl's rule to a private address decides.
    json classified = json::parse(kEvent);
    classified["event"]["action"] = "flow-classified";
    classified["network"]["protocol"] = "tls";
    auto t = run({Binaries::policer(), "rule", "explain", dir.path(), "--flow", classified.dump()});
    INFO(t.err);
    REQUIRE(t.status == 0);
    CHECK(t.out.rfind("verdict: deny, by rule 'curl-no-private'", 0) == 0);
    CHECK(t.out.find("l7.protocol != tls") != std::string::npos);
    CHECK(t.out.find("false") != std::string::npos);

    // The same flow from stdin is not possible through run(); a flat object of rule fields is.
    auto flat = run({Binaries::policer(), "rule", "explain", dir.path(), "--flow",
                     R"({"user.name":"alice","dst.port":22,"l4.proto":"tcp"})"});
    REQUIRE(flat.status == 0);
    CHECK(flat.out.rfind("verdict: reject, by rule 'ssh-root-only'", 0) == 0);
    auto ingress = run({Binaries::policer(), "rule", "explain", dir.path(), "--flow",
                        R"({"direction":"ingress","dst.port":8080})"});
    REQUIRE(ingress.status == 0);
    CHECK(ingress.out.rfind("verdict: deny, by default", 0) == 0);
}

TEST_CASE("policer rule and fields: usage errors and bad flows exit 2 with a precise message") {
    TempDir dir;
    write(dir.file("a.rules"), kBase);
    auto no_flow = run({Binaries::policer(), "rule", "explain", dir.file("a.rules")});
    CHECK(no_flow.status == 2);
    auto bad_json =
        run({Binaries::policer(), "rule", "explain", dir.file("a.rules"), "--flow", "{"});
    CHECK(bad_json.status == 2);
    CHECK(bad_json.err.find("not a JSON object") != std::string::npos);
    auto typo = run({Binaries::policer(), "rule", "explain", dir.file("a.rules"), "--flow",
                     R"({"usr.name":"alice"})"});
    CHECK(typo.status == 2);
    CHECK(typo.err.find("unknown field 'usr.name' (did you mean 'user.name'?)") !=
          std::string::npos);
    auto wrong_type = run({Binaries::policer(), "rule", "explain", dir.file("a.rules"), "--flow",
                           R"({"dst.port":"ssh"})"});
    CHECK(wrong_type.status == 2);
    auto missing = run({Binaries::policer(), "rule", "check", dir.file("missing.rules")});
    CHECK(missing.status == 1);
    CHECK(missing.err.find("cannot read") != std::string::npos);
    auto unknown = run({Binaries::policer(), "rule", "chek", dir.file("a.rules")});
    CHECK(unknown.status == 2);
    CHECK(unknown.err.find("did you mean 'check'?") != std::string::npos);
    auto help = run({Binaries::policer(), "rule", "check", "--help"});
    CHECK(help.status == 0);
    CHECK(help.out.find("Examples:") != std::string::npos);

    auto fields = run({Binaries::policer(), "fields", "--json"});
    REQUIRE(fields.status == 0);
    json f = json::parse(fields.out);
    bool user_name = false;
    for (const auto &x : f)
        if (x["name"] == "user.name") {
            user_name = true;
            CHECK(x["type"] == "string");
            CHECK(x["tier"] == "kernel");
            CHECK(x["glob_tier"] == "user space");
            CHECK(x["event_field"] == "user.name");
        }
    CHECK(user_name);
    CHECK(run({Binaries::policer(), "fields", "extra"}).status == 2);
}
