// The compiler's suffix index: terms whose pattern is "*.suffix" stay candidates only for names
// ending in a suffix. Names are chosen to sit on every edge of that rule (the suffix itself,
// a name ending in it without the dot, nested labels, absent and unknown names); the compiled
// engine must decide exactly as the reference on all of them.
#include "rules/compiler.h"

#include <doctest/doctest.h>

#include <random>
#include <sstream>

using namespace policer::rules;

TEST_CASE("suffix-indexed patterns decide like the reference on names at every edge") {
    const std::vector<std::string> patterns = {"*.example.com", "*.a.example.com", "*.com",
                                               "*.b.org",       "*example.com",    "*.ex?mple.com"};
    const std::vector<std::string> names = {"example.com",
                                            ".example.com",
                                            "a.example.com",
                                            "x.a.example.com",
                                            "aexample.com",
                                            "b.org",
                                            "x.b.org",
                                            "com",
                                            "x.example.com.evil",
                                            "a.b.org.example.com"};
    std::mt19937 rng(7);
    size_t matched = 0;
    for (int round = 0; round < 200; ++round) {
        std::ostringstream text;
        const int n = 1 + static_cast<int>(rng() % 12);
        for (int i = 0; i < n; ++i) {
            auto pat = [&] { return "\"" + patterns[rng() % patterns.size()] + "\""; };
            const char *field = rng() % 2 ? "dst.domain" : "l7.host";
            text << "rule r" << i << " { when ";
            switch (rng() % 4) {
            case 0: text << field << " glob " << pat(); break;
            case 1: text << field << " glob (" << pat() << ", " << pat() << ")"; break;
            case 2: text << field << " not glob " << pat(); break;
            default:
                text << "(" << field << " glob " << pat() << " or dst.port == 53) and " << field
                     << " != \"" << names[rng() % names.size()] << "\"";
            }
            text << " action " << (rng() % 2 ? "deny" : "alert") << " }\n";
        }
        LoadResult r = load_rules_text("suffix.rules", text.str());
        REQUIRE_MESSAGE(r.set, text.str());
        auto set = std::make_shared<RuleSet>(std::move(*r.set));
        auto c = CompiledRules::compile(set);
        for (int i = 0; i < 100; ++i) {
            FlowAttrs f;
            for (const char *field : {"dst.domain", "l7.host"}) {
                const auto k = rng() % (names.size() + 2);
                if (k < names.size())
                    f.set_string(field, names[k]);
                else if (k == names.size())
                    f.set_absent(field);
                // else: unknown
            }
            f.set_number("dst.port", rng() % 2 ? 53 : 443);
            const Decision ref = decide_reference(*set, f);
            INFO(text.str());
            REQUIRE(c->decide(f) == ref);
            matched += ref.kind == Decision::Kind::Rule;
        }
    }
    CHECK(matched > 5000);
}
