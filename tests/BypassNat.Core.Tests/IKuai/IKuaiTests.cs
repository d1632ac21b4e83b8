using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using BypassNat.Apply;
using BypassNat.Backends.IKuai;
using Xunit;
using BypassNat.Registry;

namespace BypassNat.Tests.IKuai
{
    /// <summary>The iKuai backend against tests/lab/ikuai_sim.py on loopback: real HTTP, TLS and the API's checks.</summary>
    public class IKuaiTests
    {
        // The user's own mapping, which BypassNat must never touch.
        private const string UsersOwn =
            "[{\"enabled\":\"yes\",\"comment\":\"我的NAS\",\"interface\":\"all\",\"lan_addr\":\"192.0.2.50\",\"protocol\":\"tcp\",\"wan_port\":\"5000\",\"lan_port\":\"5000\",\"src_addr\":\"\"}]";

        private static readonly BypassForward Web = Forwards.Make("web", "Tcp", "8080", bypassPort: "18080", internalPort: "80", comment: "网站 主页");
        private static readonly BypassForward Game = Forwards.Make("game", "TcpUdp", "30000-30010", internalPort: "30000-30010");
        private static readonly BypassForward Dns = Forwards.Make("dns", "Udp", "5353", internalPort: "53", enabled: "false");

        private static IKuaiRouter Router(IKuaiSimulator sim, bool https = true, Action<IKuaiSettings> change = null)
        {
            IKuaiSettings settings = sim.Settings(https);
            change?.Invoke(settings);
            return new IKuaiRouter(IKuaiApi.Open(settings, null), settings.Endpoint, null);
        }

        [SkippableTheory]
        [InlineData(3, false)]
        [InlineData(3, true)]
        [InlineData(4, true)]
        public void Applies_reads_back_and_leaves_the_users_mapping_alone(int version, bool https)
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(version, UsersOwn))
            {
                IKuaiRouter router = Router(sim, https);
                var desired = new[] { Web, Game, Dns.WithAllowedSource(SourceSet.Of(new[] { Prefix("198.51.100.0/24"), Prefix("203.0.113.9/32") })) };
                IKuaiOutcome first = router.Apply(router.Prepare(desired));
                Assert.True(first.Changed);
                Assert.Equal(new[] { "web", "game", "dns" }, first.Added);

                JsonValue rows = sim.Status()["rows"];
                Assert.Equal(4, rows.Items.Count);
                JsonValue users = rows.Items.Single(r => r["comment"].AsText() == "我的NAS");
                Assert.Equal("5000", users["wan_port"].AsText());
                JsonValue web = rows.Items.Single(r => r["comment"].AsText().Contains("name=web"));
                Assert.Equal("bypassnat;name=web;ext=8080;note=网站%20主页", web["comment"].AsText());
                Assert.Equal("192.0.2.2", web["lan_addr"].AsText());
                Assert.Equal("18080", web["lan_port"].AsText());
                JsonValue game = rows.Items.Single(r => r["comment"].AsText().Contains("name=game"));
                Assert.Equal("tcp+udp", game["protocol"].AsText());
                Assert.Equal("30000-30010", game["wan_port"].AsText());
                JsonValue dns = rows.Items.Single(r => r["comment"].AsText().Contains("name=dns"));
                Assert.Equal("no", dns["enabled"].AsText());

                IKuaiState state = router.Read();
                Assert.Empty(state.Problems);
                Assert.Equal(new[] { "dns", "game", "web" }, state.Forwards.Select(f => f.Name).OrderBy(n => n));
                Assert.False(state.Forwards.Single(f => f.Name == "dns").Enabled);
                Assert.Equal("198.51.100.0/24 203.0.113.9", state.Forwards.Single(f => f.Name == "dns").AllowedSource.ToString());
                Assert.Equal("网站 主页", state.Forwards.Single(f => f.Name == "web").Comment);

                // Nothing to change: no write call at all.
                long writes = sim.Count("writes");
                IKuaiOutcome again = router.Apply(router.Prepare(desired));
                Assert.False(again.Changed);
                Assert.Equal(writes, sim.Count("writes"));
                Assert.Empty(Drift(router, desired));

                // Remove all takes only ours.
                IKuaiOutcome removed = router.Apply(router.PrepareRemoval(null));
                Assert.Equal(new[] { "dns", "game", "web" }, removed.Removed.OrderBy(n => n));
                Assert.Equal("我的NAS", sim.Status()["rows"].Items.Single()["comment"].AsText());
            }
        }

        [SkippableFact]
        public void An_expired_session_logs_in_again_once()
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(3))
            {
                IKuaiRouter router = Router(sim);
                router.Read();
                Assert.Equal(1, sim.Count("logins"));
                sim.ExpireSessions();
                router.Apply(router.Prepare(new[] { Web }));
                Assert.Equal(2, sim.Count("logins"));
                Assert.Single(router.Read().Forwards);
            }
        }

        [SkippableTheory]
        [InlineData(3)]
        [InlineData(4)]
        public void A_wrong_password_or_token_is_refused_and_never_shown(int version)
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(version))
            {
                IKuaiRouter router = Router(sim, change: s =>
                {
                    s.Password = "wrong-pass-XYZ";
                    s.ApiToken = "wrong-token-XYZ";
                });
                var e = Assert.Throws<BypassNatException>(() => router.Read());
                Assert.Equal(version == 3 ? "BypassNat.AuthenticationFailed" : "BypassNat.TokenRefused", e.ErrorId);
                Assert.Equal(FailureKind.AuthenticationError, e.Kind);
                Assert.Contains("127.0.0.1", e.Message);
                Assert.DoesNotContain("XYZ", e.ToString());
            }
        }

        [SkippableTheory]
        [InlineData(3)]
        [InlineData(4)]
        public void A_wrong_certificate_is_refused_before_the_secret_is_sent(int version)
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(version))
            {
                IKuaiRouter router = Router(sim, change: s => s.CertificateFingerprints = new[] { new string('A', 64) });
                var e = Assert.Throws<BypassNatException>(() => router.Read());
                Assert.Equal("BypassNat.CertificateMismatch", e.ErrorId);
                Assert.Equal(FailureKind.SecurityError, e.Kind);
                Assert.Contains(sim.Fingerprint.Split('=')[1], e.Message);
                Assert.Equal(0, sim.Count("calls"));
            }
        }

        [SkippableFact]
        public void Trust_on_first_use_remembers_the_certificate_and_refuses_a_changed_one()
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(4))
            {
                Action<IKuaiSettings> unpinned = s => s.CertificateFingerprints = new string[0];
                var unknown = Assert.Throws<BypassNatException>(() => Router(sim, change: unpinned).Read());
                Assert.Equal("BypassNat.CertificateUnknown", unknown.ErrorId);
                Assert.Equal(0, sim.Count("calls"));

                Router(sim, change: s => { unpinned(s); s.AcceptNewCertificate = true; }).Read();
                string file = sim.Settings().KnownCertificatesFile;
                Assert.Contains(sim.Fingerprint.Split('=')[1].Replace(":", ""), File.ReadAllText(file));
                Router(sim, change: unpinned).Read();
                long calls = sim.Count("calls");

                File.WriteAllText(file, $"127.0.0.1:{sim.HttpsPort} {new string('B', 64)}\n");
                var changed = Assert.Throws<BypassNatException>(() => Router(sim, change: s => { unpinned(s); s.AcceptNewCertificate = true; }).Read());
                Assert.Equal("BypassNat.CertificateMismatch", changed.ErrorId);
                Assert.Contains(file, changed.Message);
                Assert.Equal(calls, sim.Count("calls"));
            }
        }

        [SkippableTheory]
        [InlineData(3, 1)]
        [InlineData(3, 3)]
        [InlineData(4, 2)]
        public void A_call_that_fails_half_way_puts_back_what_was_there(int version, int failing)
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(version, UsersOwn))
            {
                IKuaiRouter router = Router(sim);
                router.Apply(router.Prepare(new[] { Web, Game }));
                string before = Ours(sim);

                // Change web's port, remove game, add dns: three calls; one of them fails.
                sim.Control("{\"fail_write\": " + failing + "}");
                BypassForward moved = Forwards.Make("web", "Tcp", "8081", bypassPort: "18081", internalPort: "80", comment: "网站 主页");
                var e = Assert.Throws<BypassNatException>(() => router.Apply(router.Prepare(new[] { moved, Dns })));
                Assert.Equal("BypassNat.ApiError", e.ErrorId);
                Assert.Contains($"call {failing} of 3", e.Message);
                Assert.Contains("Rolled back", e.Message);
                Assert.Contains("game, web", string.Join(", ", e.Message.Split('(', ')').Where(p => p.Contains("read back"))).Replace("web, game", "game, web"));
                Assert.Equal(before, Ours(sim));
                Assert.Contains("我的NAS", sim.Status()["rows"].ToString());
            }
        }

        [SkippableFact]
        public void A_mapping_edited_in_the_web_ui_is_drift_and_the_next_apply_repairs_it()
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(3))
            {
                IKuaiRouter router = Router(sim);
                router.Apply(router.Prepare(new[] { Web }));
                string id = sim.Status()["rows"].Items.Single()["id"].AsText();
                sim.Control("{\"edit\": {\"id\": " + id + ", \"lan_port\": \"18888\"}}");
                ForwardDrift drift = Drift(router, new[] { Web }).Single();
                Assert.Equal(DriftKind.Different, drift.Kind);
                Assert.Equal(new[] { "BypassPort", "InternalPort" }, drift.Fields);
                IKuaiOutcome repaired = router.Apply(router.Prepare(new[] { Web }));
                Assert.Equal(new[] { "web" }, repaired.Modified);
                Assert.Equal("18080", sim.Status()["rows"].Items.Single()["lan_port"].AsText());
            }
        }

        [SkippableFact]
        public void A_port_the_user_already_forwards_is_refused_before_any_write()
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(3, UsersOwn))
            {
                IKuaiRouter router = Router(sim);
                var e = Assert.Throws<BypassNatException>(() => router.Prepare(new[] { Forwards.Make("nas", "TcpUdp", "4990-5010", internalPort: "4990-5010") }));
                Assert.Equal("BypassNat.PortConflict", e.ErrorId);
                Assert.Contains("我的NAS", e.Message);
                Assert.Equal(0, sim.Count("writes"));
            }
        }

        [Fact]
        public void Edits_that_swap_ports_never_put_two_rows_on_one_port()
        {
            IKuaiMapping Row(string id, string name, string port, string lan) => new IKuaiMapping
            {
                Id = id, Comment = new RuleComment(name, PortRange.Parse(port), null).Encode(), LanAddress = "192.0.2.2", WanPort = port, LanPort = lan,
            };

            var current = new[] { Row("1", "a", "8080", "80"), Row("2", "b", "8081", "81"), Row("3", "c", "9000", "90") };
            // a and b swap external ports (a cycle), c moves to a's old port... which a leaves.
            var desired = new[] { Row(null, "a", "8081", "80"), Row(null, "b", "8080", "81"), Row(null, "c", "9001", "90") };
            IKuaiPlan plan = IKuaiPlan.Compute(current, desired);

            // Replay the plan on the rows and check after every call that no two enabled rows share a port.
            var rows = current.Select(r => r.Copy()).ToList();
            foreach (IKuaiStep step in plan.Steps)
            {
                if (step.Kind == IKuaiStepKind.Delete) rows.RemoveAll(r => r.Id == step.Before.Id);
                else if (step.Kind == IKuaiStepKind.Edit) rows[rows.FindIndex(r => r.Id == step.After.Id)] = step.After;
                else rows.Add(step.After);
                for (int i = 0; i < rows.Count; i++)
                for (int j = i + 1; j < rows.Count; j++)
                    Assert.False(rows[i].Overlaps(rows[j]), $"after '{step}': {rows[i].Describe()} and {rows[j].Describe()}");
            }

            Assert.Equal(desired.Select(d => d.Describe()).OrderBy(x => x), rows.Select(r => { var c = r.Copy(); c.Id = null; return c.Describe(); }).OrderBy(x => x));
        }

        [Theory]
        [InlineData("sha256 Fingerprint=AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89")]
        [InlineData("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89")]
        [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
        public void Fingerprints_are_read_as_openssl_prints_them_colons_optional(string given) =>
            Assert.Equal("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", CertificateTrust.Normalize(given));

        [Theory]
        [InlineData("SHA256:abc")]
        [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF012345678")]
        [InlineData("ZZCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
        public void A_fingerprint_that_is_not_sha256_is_refused(string given) =>
            Assert.Equal("BypassNat.InvalidFingerprint", Assert.Throws<BypassNatException>(() => CertificateTrust.Normalize(given)).ErrorId);

        [Fact]
        public void The_login_sends_the_password_forms_of_the_web_ui()
        {
            // md5("admin") and base64("salt_11admin"), as the clients compute them; and the variant one
            // client sends (from the md5) differs, so a router that wants it refuses ours (the sim checks each).
            Assert.Equal("21232f297a57a5a743894a0e4a801fc3", IKuaiApiV3.PasswordHash("admin"));
            Assert.Equal("c2FsdF8xMWFkbWlu", IKuaiApiV3.SaltedPassword("admin"));
            Assert.NotEqual(IKuaiApiV3.SaltedPassword(IKuaiApiV3.PasswordHash("admin")), IKuaiApiV3.SaltedPassword("admin"));
        }

        [Fact]
        public void Both_versions_rows_are_read_whatever_their_json_types()
        {
            JsonValue v3 = JsonValue.Parse("{\"id\": 1094, \"enabled\": \"yes\", \"comment\": \"x\", \"interface\": \"adsl1\", \"lan_addr\": \"192.0.2.2\", \"protocol\": \"TCP+UDP\", \"wan_port\": 80, \"lan_port\": \"80\", \"src_addr\": \"198.51.100.1,198.51.100.0/24\"}");
            JsonValue v4 = JsonValue.Parse("{\"id\": \"7\", \"enabled\": \"no\", \"comment\": nil, \"lan_addr\": \"192.0.2.2\", \"protocol\": \"udp\", \"wan_port\": \"53\", \"lan_port\": \"53\", \"src_addr\": {\"custom\": [\"198.51.100.1\"], \"object\": []}, \"tagname\": null}");
            IKuaiMapping a = IKuaiApi.Row(v3), b = IKuaiApi.Row(v4);
            Assert.Equal(("1094", "tcp+udp", "80", "adsl1"), (a.Id, a.Protocol, a.WanPort, a.Interface));
            Assert.Equal(new[] { "198.51.100.1", "198.51.100.0/24" }, a.Sources);
            Assert.Equal(("7", false, "", "all"), (b.Id, b.Enabled, b.Comment, b.Interface));
            Assert.Equal(new[] { "198.51.100.1" }, b.Sources);
        }

        [Theory]
        [InlineData("{\"a\": [1, 2")]
        [InlineData("{\"a\" 1}")]
        [InlineData("\"unterminated")]
        [InlineData("{} x")]
        public void Json_that_is_broken_is_a_format_error(string json) => Assert.Throws<FormatException>(() => JsonValue.Parse(json));

        [Fact]
        public void Json_round_trips_text_with_quotes_and_chinese()
        {
            JsonValue value = JsonValue.Object(("k", JsonValue.Text("a\"b\\c\n中文")), ("n", JsonValue.Number(-5)), ("l", JsonValue.Array(new[] { JsonValue.Bool(true), JsonValue.Null })));
            string text = value.ToString();
            Assert.Equal("{\"k\":\"a\\\"b\\\\c\\n中文\",\"n\":-5,\"l\":[true,null]}", text);
            Assert.Equal(text, JsonValue.Parse(text).ToString());
            Assert.Equal("é", JsonValue.Parse("\"\\u00e9\"").AsText());
        }

        private static IReadOnlyList<ForwardDrift> Drift(IKuaiRouter router, IEnumerable<BypassForward> desired) =>
            ForwardDrift.Compare("r", desired.Select(IKuaiMapping.Project).ToList(), new IKuaiRouterState(router.Read()));

        [SkippableFact]
        public void Behind_the_seam_the_applier_plans_writes_verifies_and_removes_through_the_web_api()
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(4, UsersOwn))
            {
                IKuaiSettings settings = sim.Settings();
                var backend = (IKuaiBackend)BackendRegistry.Create(Backends.BackendKind.IKuai,
                    new BackendSite(RouterHop.For(RouterRole.Main), null, null, null, new BackendOptions { IKuai = settings }));
                using (backend)
                {
                    ForwardApplier Applier() => new ForwardApplier(new BackendChoice(backend, null, "test"), RouterHop.For(RouterRole.Main), new RenderContext(new Ipv4Prefix[0]));
                    var desired = new[] { Web.WithPublicAddress(System.Net.IPAddress.Parse("203.0.113.1")), Game, Dns };
                    ApplyResult first = Applier().Apply(Applier().Plan(desired), true, _ => { });
                    Assert.True(first.Changed);
                    Assert.Equal(new[] { "web", "game" }, first.Added);
                    Assert.Equal("ikuai", first.Persisted);
                    // The disabled forward is a mapping switched off, absent to the orchestration.
                    Assert.Equal("no", sim.Status()["rows"].Items.Single(r => r["comment"].AsText().Contains("name=dns"))["enabled"].AsText());

                    long writes = sim.Count("writes");
                    ApplyPlan again = Applier().Plan(desired);
                    Assert.False(again.NeedsWrite);
                    Assert.False(Applier().Apply(again, false, _ => { }).Changed);
                    Assert.Equal(writes, sim.Count("writes"));

                    Assert.Equal("BypassNat.ConfirmNotSupported", Assert.Throws<BypassNatException>(() => Applier().CheckConfirmable()).ErrorId);
                    IReadOnlyList<BypassForward> removed = Applier().RemoveAll();
                    Assert.Equal(new[] { "game", "web" }, removed.Select(f => f.Name).OrderBy(n => n));
                    Assert.Equal("我的NAS", sim.Status()["rows"].Items.Single()["comment"].AsText());
                }
            }
        }

        private static Ipv4Prefix Prefix(string text)
        {
            Assert.True(Ipv4Prefix.TryParse(text, out Ipv4Prefix prefix));
            return prefix;
        }

        private static string Ours(IKuaiSimulator sim) =>
            string.Join("\n", sim.Status()["rows"].Items.Where(r => r["comment"].AsText().StartsWith("bypassnat;"))
                .Select(r => $"{r["comment"].AsText()} {r["enabled"].AsText()} {r["protocol"].AsText()} {r["wan_port"].AsText()} {r["lan_addr"].AsText()} {r["lan_port"].AsText()}")
                .OrderBy(x => x));
    }
}
