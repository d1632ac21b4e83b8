using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Backends.IKuai;
using BypassNat.Registry;
using Xunit;

namespace BypassNat.Tests.IKuai
{
    /// <summary>
    /// What an iKuai router holds after each way an apply can end (a failed call, Ctrl-C, a changed
    /// certificate, a failed read-back), and the orchestration's view of it: disabled mappings, the
    /// user's own mapping found while planning.
    /// </summary>
    public class IKuaiTruthTests
    {
        private const string UsersOwn =
            "[{\"enabled\":\"yes\",\"comment\":\"我的NAS\",\"interface\":\"all\",\"lan_addr\":\"192.0.2.50\",\"protocol\":\"tcp\",\"wan_port\":\"5000\",\"lan_port\":\"5000\",\"src_addr\":\"\"}]";

        private static readonly BypassForward Web = Forwards.Make("web", "Tcp", "8080", bypassPort: "18080", internalPort: "80");
        private static readonly BypassForward Moved = Forwards.Make("web", "Tcp", "8081", bypassPort: "18081", internalPort: "80");
        private static readonly BypassForward Game = Forwards.Make("game", "TcpUdp", "30000-30010", internalPort: "30000-30010");
        private static readonly BypassForward Dns = Forwards.Make("dns", "Udp", "5353", internalPort: "53", enabled: "false");

        /// <summary>The API in memory: rows, and a failure to throw at a given write call or at every read after it.</summary>
        private sealed class FakeApi : IIKuaiApi
        {
            private int _next = 1;
            public List<IKuaiMapping> Rows { get; } = new List<IKuaiMapping>();
            public Func<int, BypassNatException> FailWrite { get; set; } = _ => null;
            public Func<BypassNatException> FailRead { get; set; } = () => null;
            public int CallsAfterFailure { get; private set; }
            private bool _failed;

            public string Describe => "fake";
            public string ComputerName => "ikuai";
            public int Port => 443;
            public string UserName => null;
            public string Endpoint => "https://ikuai:443";
            public bool Encrypted => true;
            public string CertificateFingerprint => null;
            public int WriteCalls { get; private set; }
            public int Requests { get; private set; }
            public CancellationToken Cancel { get; set; }
            public Action<string> Trace { get; set; }

            public IReadOnlyList<IKuaiMapping> List()
            {
                Count();
                BypassNatException e = FailRead();
                if (e != null) throw e;
                return Rows.Select(r => r.Copy()).ToList();
            }

            private void Count()
            {
                Requests++;
                if (_failed) CallsAfterFailure++;
            }

            private void Write()
            {
                Count();
                BypassNatException e = FailWrite(++WriteCalls);
                if (e == null) return;
                _failed = true;
                throw e;
            }

            public string Add(IKuaiMapping mapping)
            {
                Write();
                IKuaiMapping row = mapping.Copy();
                row.Id = (_next++).ToString();
                Rows.Add(row);
                return row.Id;
            }

            public void Edit(IKuaiMapping mapping)
            {
                Write();
                Rows[Rows.FindIndex(r => r.Id == mapping.Id)] = mapping.Copy();
            }

            public void Delete(string id)
            {
                Write();
                Rows.RemoveAll(r => r.Id == id);
            }

            public void Dispose()
            {
            }
        }

        private static BypassNatException Refused(string id, FailureKind kind) => new BypassNatException(id, kind, $"({id} from the fake API.)", "fake");

        private static (FakeApi Api, IKuaiRouter Router) WebAndGame()
        {
            var api = new FakeApi();
            var router = new IKuaiRouter(api, "ikuai", null);
            router.Apply(router.Prepare(new[] { Web, Game }));
            return (api, router);
        }

        [Fact]
        public void A_certificate_refused_after_some_calls_says_what_those_calls_left_and_sends_nothing_more()
        {
            (FakeApi api, IKuaiRouter router) = WebAndGame();
            // Delete game, change web, add dns: the second call meets a certificate that is not the pinned one.
            api.FailWrite = n => n == 4 ? Refused("BypassNat.CertificateMismatch", FailureKind.SecurityError) : null;
            var e = Assert.Throws<BypassNatException>(() => router.Apply(router.Prepare(new[] { Moved, Dns })));
            Assert.Equal("BypassNat.CertificateMismatch", e.ErrorId);
            Assert.Contains("call 2 of 3", e.Message);
            Assert.Contains("call 1 before it went through", e.Message);
            Assert.Contains("it holds web (not read back)", e.Message);
            Assert.DoesNotContain("as they were", e.Message);
            Assert.DoesNotContain("Nothing was changed", e.Message);
            Assert.Equal(0, api.CallsAfterFailure);
            Assert.Equal(new[] { "web" }, api.Rows.Select(IKuaiPlan.KeyOf));
        }

        [Fact]
        public void A_read_back_that_fails_after_every_call_says_what_the_calls_left()
        {
            (FakeApi api, IKuaiRouter router) = WebAndGame();
            IKuaiChange change = router.Prepare(new[] { Moved, Dns });
            api.FailRead = () => Refused("BypassNat.RouterUnreachable", FailureKind.ConnectionError);
            var e = Assert.Throws<BypassNatException>(() => router.Apply(change));
            Assert.Equal("BypassNat.RouterUnreachable", e.ErrorId);
            Assert.Contains("Every call of the apply (3) went through", e.Message);
            Assert.Contains("the router holds dns (disabled), web (not verified)", e.Message);
        }

        [Fact]
        public void A_failed_call_on_a_router_that_then_cannot_be_read_says_what_the_calls_left()
        {
            (FakeApi api, IKuaiRouter router) = WebAndGame();
            IKuaiChange change = router.Prepare(new[] { Moved, Dns });
            api.FailWrite = n => n == 4 ? Refused("BypassNat.ApiError", FailureKind.InvalidResult) : null;
            api.FailRead = () => api.WriteCalls >= 4 ? Refused("BypassNat.RouterUnreachable", FailureKind.ConnectionError) : null;
            var e = Assert.Throws<BypassNatException>(() => router.Apply(change));
            Assert.Equal("BypassNat.RollbackFailed", e.ErrorId);
            Assert.Contains("That was call 2 of 3", e.Message);
            Assert.Contains("by the calls that went through it holds web, and call 2, which failed, may have landed too", e.Message);
        }

        [Fact]
        public void A_read_that_fails_before_any_write_says_nothing_was_changed()
        {
            (FakeApi api, _) = WebAndGame();
            var router = new IKuaiRouter(api, "ikuai", null);
            api.FailRead = () => Refused("BypassNat.TokenRefused", FailureKind.AuthenticationError);
            var e = Assert.Throws<BypassNatException>(() => router.Prepare(new[] { Moved }));
            Assert.EndsWith("Nothing was changed on it.", e.Message);
        }

        [Fact]
        public void A_disabled_forward_compares_with_a_disabled_one_and_is_removed_when_no_longer_named()
        {
            BypassForward off = Forwards.Make("web", "Tcp", "8080", bypassPort: "18080", internalPort: "80", enabled: "false");
            Assert.True(RulesetDiff.Compute(new[] { off }, new[] { off }).IsEmpty);
            Assert.Equal(new[] { "web" }, RulesetDiff.Compute(new BypassForward[0], new[] { off }).Removed.Select(f => f.Name));
            Assert.Equal(new[] { "Enabled" }, RulesetDiff.Compute(new[] { Web }, new[] { off }).Changed.Single().Fields);
            Assert.Equal(new[] { "web" }, RulesetDiff.Compute(new[] { off }, new[] { Web }).Removed.Select(f => f.Name));
            // Where routers never hold a disabled forward (the SSH backends), a disabled row is absent as before.
            Assert.True(RulesetDiff.Compute(new[] { off }, new BypassForward[0]).IsEmpty);
        }

        private static ForwardApplier Applier(IKuaiBackend backend) =>
            new ForwardApplier(new BackendChoice(backend, null, "test"), RouterHop.For(RouterRole.Main), new RenderContext(new Ipv4Prefix[0]));

        [SkippableFact]
        public void Disabled_mappings_are_read_planned_and_their_removal_is_listed()
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(3, UsersOwn))
            using (var backend = IKuaiBackend.Open(sim.Settings()))
            {
                Applier(backend).Apply(Applier(backend).Plan(new[] { Web, Dns }), false, _ => { });
                RouterState state = backend.Read();
                BypassForward dns = state.Forwards.Single(f => f.Name == "dns");
                Assert.False(dns.Enabled);

                long writes = sim.Count("writes");
                Assert.False(Applier(backend).Plan(new[] { Web, Dns }).NeedsWrite);
                ApplyPlan without = Applier(backend).Plan(new[] { Web });
                Assert.True(without.NeedsWrite);
                Assert.Equal(new[] { "dns" }, without.Diff.Removed.Select(f => f.Name));
                Assert.Contains("remove   dns", without.Describe());
                Assert.Equal(writes, sim.Count("writes"));

                ApplyResult result = Applier(backend).Apply(without, false, _ => { });
                Assert.Equal(new[] { "dns" }, result.Removed);
                Assert.DoesNotContain("name=dns", sim.Status()["rows"].ToString());
            }
        }

        [SkippableFact]
        public void The_users_own_mapping_on_a_port_is_refused_while_planning()
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(4, UsersOwn))
            using (var backend = IKuaiBackend.Open(sim.Settings()))
            {
                var e = Assert.Throws<BypassNatException>(() => Applier(backend).Plan(new[] { Web, Forwards.Make("nas", "Tcp", "4999-5001", internalPort: "4999-5001") }));
                Assert.Equal("BypassNat.PortConflict", e.ErrorId);
                Assert.Contains("port 4999-5001", e.Message);
                Assert.Contains("我的NAS", e.Message);
                Assert.Contains("Nothing was changed", e.Message);
                // A disabled forward on that port takes nothing: it is planned as any other.
                Assert.True(Applier(backend).Plan(new[] { Web, Forwards.Make("nas", "Tcp", "5000", internalPort: "5000", enabled: "false") }).NeedsWrite);
                Assert.Equal(0, sim.Count("writes"));
            }
        }

        [SkippableTheory]
        [InlineData(3)]
        [InlineData(4)]
        public void Ctrl_C_during_a_call_puts_back_what_was_there(int version)
        {
            string why = IKuaiSimulator.Unavailable();
            Skip.If(why != null, why);
            using (var sim = new IKuaiSimulator(version, UsersOwn))
            using (var stop = new CancellationTokenSource())
            {
                IKuaiSettings settings = sim.Settings();
                var router = new IKuaiRouter(IKuaiApi.Open(settings, null, stop.Token), settings.Endpoint, null);
                router.Apply(router.Prepare(new[] { Web, Game }));
                string before = sim.Status()["rows"].ToString();

                // Delete game, change web, add dns; the change of web is held 3 s, and Ctrl-C comes meanwhile.
                sim.Control("{\"delay_write\": 2, \"delay_seconds\": 3}");
                IKuaiChange change = router.Prepare(new[] { Moved, Dns });
                Task<IKuaiOutcome> apply = Task.Run(() => router.Apply(change));
                string started = Path.Combine(sim.Dir, "delay-started");
                for (int i = 0; i < 200 && !File.Exists(started); i++) Thread.Sleep(25);
                Assert.True(File.Exists(started));
                stop.Cancel();

                var e = Assert.Throws<BypassNatException>(() => apply.GetAwaiter().GetResult());
                Assert.Equal("BypassNat.Stopped", e.ErrorId);
                Assert.Contains("Stopped (Ctrl-C) during call 2 of 3", e.Message);
                Assert.Contains("Rolled back", e.Message);
                Assert.Contains("game, web, read back", e.Message);
                string after = sim.Status()["rows"].ToString();
                Assert.Equal(Ours(before), Ours(after));
            }
        }

        // Our rows without their ids: a row put back by delete and add has a new one.
        private static string Ours(string rows) =>
            string.Join("\n", JsonValue.Parse(rows).Items
                .Select(r => $"{r["comment"].AsText()} {r["enabled"].AsText()} {r["protocol"].AsText()} {r["wan_port"].AsText()} {r["lan_addr"].AsText()} {r["lan_port"].AsText()}")
                .OrderBy(x => x, StringComparer.Ordinal));
    }
}
