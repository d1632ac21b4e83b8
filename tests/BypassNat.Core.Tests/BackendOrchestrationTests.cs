using System;
using System.Collections.Generic;
using System.Linq;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Ssh;
using Xunit;
using BypassNat.Registry;

namespace BypassNat.Tests
{
    /// <summary>
    /// The orchestration (survey, plan, write, read-back, removal, -Persist, -ConfirmTimeout) for every
    /// registered backend on every hop it serves, against the fake router: a guarantee that holds for
    /// one backend must hold for each, and one that a backend's capabilities exclude is refused.
    /// </summary>
    public class BackendOrchestrationTests
    {
        private static readonly BypassForward Web = Forwards.Make("web", "tcp", "8080", internalPort: "80");
        private static readonly BypassForward Game = Forwards.Make("game", "udp", "9000");
        private static readonly BypassForward Admin = Forwards.Make("admin", "tcp", "8443", internalPort: "443");

        private static readonly BypassForward[] Old = { Web, Game };
        private static readonly BypassForward[] New = { Web, Admin };

        /// <summary>Every backend on every hop its registration serves.</summary>
        /// <remarks>
        /// Not IKuai: its transport is the router's web API, not a shell the fake router answers; its
        /// guarantees are tested against the iKuai API simulator (IKuai/IKuaiTests).
        /// </remarks>
        public static IEnumerable<object[]> Sites() =>
            BackendRegistry.All.Where(r => r.Kind != BackendKind.IKuai).SelectMany(r => r.Roles.Select(role => new object[] { role, r.Kind }));

        /// <summary>The sites whose backend offers a saved set and a watchdog.</summary>
        public static IEnumerable<object[]> ConfirmableSites() =>
            Sites().Where(s => Capabilities((RouterRole)s[0], (BackendKind)s[1]).HasFlag(BackendCapabilities.CommitConfirmed | BackendCapabilities.SavedSet));

        private static BackendCapabilities Capabilities(RouterRole role, BackendKind kind) =>
            BackendRegistry.Create(kind, new BackendSite(RouterHop.For(role), null)).Capabilities;

        [Fact]
        public void EveryRegisteredBackendIsCoveredOnEveryHopItServes()
        {
            // Two kernel backends on both hops, and UCI redirects on the main hop.
            Assert.Equal(5, Sites().Count());
            Assert.Contains(Sites(), s => (RouterRole)s[0] == RouterRole.Main && (BackendKind)s[1] == BackendKind.Uci);
            Assert.DoesNotContain(Sites(), s => (RouterRole)s[0] == RouterRole.Bypass && (BackendKind)s[1] == BackendKind.Uci);
            Assert.Equal(4, ConfirmableSites().Count());
        }

        private static FakeRouter Router(RouterRole role, BackendKind kind)
        {
            var router = new FakeRouter { Hop = RouterHop.For(role), Holding = kind };
            switch (kind)
            {
                case BackendKind.Nftables:
                    router.ProbeOutput = "nft=nftables v1.0.6 (Lester Gooch #5)\nnft-usable=yes\niptables=iptables v1.8.9 (nf_tables)\n";
                    break;
                case BackendKind.Uci:
                    router.ProbeOutput = "nft=nftables v1.0.6 (Lester Gooch #5)\nnft-usable=yes\nopenwrt-uci=yes\n";
                    break;
            }

            return router;
        }

        private static SshSettings Settings() => new SshSettings
        {
            ComputerName = "192.0.2.2",
            HostKeyFingerprints = new List<string> { "SHA256:" + FakeRouter.FakeFingerprint },
        };

        private static ApplyResult Apply(FakeRouter router, IReadOnlyList<BypassForward> desired, bool persist = false, List<string> warnings = null)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
            {
                ForwardApplier applier = ForwardApplier.For(session, router.Holding, router.Hop, null);
                Assert.Equal(router.Holding, applier.Choice.Backend.Kind);
                return applier.Apply(applier.Plan(desired), persist, w => warnings?.Add(w));
            }
        }

        private static ApplyResult ApplyConfirmed(FakeRouter router, IReadOnlyList<BypassForward> desired, bool persist, Func<SshSettings, RouterSession> open)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
            {
                ForwardApplier applier = ForwardApplier.For(session, router.Holding, router.Hop, null);
                return applier.ApplyConfirmed(applier.Plan(desired), persist, CommitConfirmation.MinimumSeconds, open, _ => { }, _ => { });
            }
        }

        private static IReadOnlyList<BypassForward> RemoveAll(FakeRouter router)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
                return ForwardApplier.For(session, router.Holding, router.Hop, null).RemoveAll();
        }

        private static FakeRouter RouterWithOld(RouterRole role, BackendKind kind, bool persisted = false)
        {
            FakeRouter router = Router(role, kind);
            Apply(router, Old, persisted);
            Assert.Equal("game,web", Names(router.LiveForwards));
            router.Steps.Clear();
            return router;
        }

        private static string Names(IEnumerable<BypassForward> forwards) => string.Join(",", forwards.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal));

        // The step that writes the rules: a kernel transaction, or UCI's batch with commit and reload.
        private static RouterStep WriteStep(BackendKind kind) => kind == BackendKind.Uci ? RouterStep.UciTransaction : RouterStep.Load;

        [Theory]
        [MemberData(nameof(Sites))]
        public void AnApplyWritesOnlyWhatDiffersAndTheRouterHoldsExactlyTheNewSet(RouterRole role, BackendKind kind)
        {
            FakeRouter router = RouterWithOld(role, kind);

            ApplyResult again = Apply(router, Old);
            Assert.False(again.Changed);
            Assert.DoesNotContain(WriteStep(kind), router.Steps);

            ApplyResult change = Apply(router, New);
            Assert.True(change.Changed);
            Assert.Equal(kind.ToString(), change.Backend);
            Assert.Equal(role.ToString(), change.Role);
            Assert.Equal(new[] { "admin" }, change.Added);
            Assert.Equal(new[] { "game" }, change.Removed);
            Assert.Equal("admin,web", Names(router.LiveForwards));
            Assert.Empty(router.UnknownScripts);
        }

        [Theory]
        [MemberData(nameof(Sites))]
        public void AWriteThatClaimsSuccessButChangesNothingFailsItsReadBack(RouterRole role, BackendKind kind)
        {
            FakeRouter router = RouterWithOld(role, kind);
            router.Faults[WriteStep(kind)] = Fault.Pretend();

            var failure = Assert.Throws<BypassNatException>(() => Apply(router, New));

            Assert.Equal("BypassNat.VerificationFailed", failure.ErrorId);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void UciRedirectsReadBackAfterTheCommitCatchAConfigChangedUnderThem()
        {
            FakeRouter router = RouterWithOld(RouterRole.Main, BackendKind.Uci);
            string before = router.UciShow();
            // The plan's read and the transaction's own read before its batch are true; the one after the commit is not.
            router.Faults[RouterStep.UciRead] = Fault.Lie(_ => before).After(2).Once();

            var failure = Assert.Throws<BypassNatException>(() => Apply(router, New));

            Assert.Equal("BypassNat.VerificationFailed", failure.ErrorId);
            Assert.Contains("differ from what was committed", failure.Message);
        }

        [Fact]
        public void TheApplyReadsUciRedirectsBackOnceMoreAndCatchesAChangeAfterTheTransaction()
        {
            FakeRouter router = RouterWithOld(RouterRole.Main, BackendKind.Uci);
            string before = router.UciShow();
            // The transaction's read-back is true; the apply's own, after it, finds the old set again.
            router.Faults[RouterStep.UciRead] = Fault.Lie(_ => before).After(3).Once();

            var failure = Assert.Throws<BypassNatException>(() => Apply(router, New));

            Assert.Equal("BypassNat.VerificationFailed", failure.ErrorId);
            Assert.Matches(@"differ from what was applied; it now holds 2 forward\(s\): (game, web|web, game)\.", failure.Message);
        }

        [Theory]
        [MemberData(nameof(Sites))]
        public void ARefusedWriteKeepsThePreviousForwardsAndSaysSo(RouterRole role, BackendKind kind)
        {
            FakeRouter router = RouterWithOld(role, kind);
            router.Faults[WriteStep(kind)] = kind == BackendKind.Uci
                ? Fault.Refuse("firewall4 refused the ruleset; rolled back: the previous firewall config is restored and loaded", 4)
                : Fault.Refuse("the kernel said no", 3);

            var failure = Assert.Throws<BypassNatException>(() => Apply(router, New));

            Assert.Equal(kind == BackendKind.Uci ? "BypassNat.FirewallRefused" : "BypassNat.RouterCommandFailed", failure.ErrorId);
            Assert.Contains(kind == BackendKind.Uci ? "It keeps the forwards it had" : "the router keeps its previous forwards", failure.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Theory]
        [MemberData(nameof(Sites))]
        public void RemovingEverythingLeavesNoneOfBypassNatsForwards(RouterRole role, BackendKind kind)
        {
            FakeRouter router = RouterWithOld(role, kind);

            IReadOnlyList<BypassForward> removed = RemoveAll(router);

            Assert.Equal("game,web", Names(removed));
            Assert.Equal(string.Empty, Names(router.LiveForwards));
            Assert.Empty(router.UnknownScripts);
        }

        [Theory]
        [MemberData(nameof(Sites))]
        public void PersistSavesTheSetWhereTheBackendHasASavedSetAndNothingWhereTheRouterKeepsItsOwn(RouterRole role, BackendKind kind)
        {
            FakeRouter router = Router(role, kind);
            ApplyResult result = Apply(router, Old, persist: true);

            if (Capabilities(role, kind).HasFlag(BackendCapabilities.SavedSet))
            {
                Assert.Equal("systemd", result.Persisted);
                Assert.True(router.Persisted);
                Assert.Equal("game,web", Names(router.SavedForwards));
                // A later apply without -Persist keeps the saved set current.
                Apply(router, New);
                Assert.Equal("admin,web", Names(router.SavedForwards));
            }
            else
            {
                Assert.Equal(kind.ToString().ToLowerInvariant(), result.Persisted);
                Assert.False(router.Persisted);
                Assert.DoesNotContain(RouterStep.Save, router.Steps);
            }
        }

        [Theory]
        [MemberData(nameof(ConfirmableSites))]
        public void APlainWriteWaitsForAnEarlierUnconfirmedApplyAndChangesNothing(RouterRole role, BackendKind kind)
        {
            FakeRouter router = RouterWithOld(role, kind, persisted: true);
            router.PendingToken = "an0ther0apply";

            var failure = Assert.Throws<BypassNatException>(() => Apply(router, New));

            Assert.Equal("BypassNat.ConfirmPending", failure.ErrorId);
            Assert.Contains("Nothing was changed", failure.Message);
            Assert.DoesNotContain(RouterStep.Load, router.Steps);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.Equal("game,web", Names(router.SavedForwards));

            var removal = Assert.Throws<BypassNatException>(() => RemoveAll(router));
            Assert.Equal("BypassNat.ConfirmPending", removal.ErrorId);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.True(router.Persisted);
        }

        [Theory]
        [MemberData(nameof(ConfirmableSites))]
        public void AConfirmedApplyStopsTheWatchdogAndKeepsTheNewSet(RouterRole role, BackendKind kind)
        {
            FakeRouter router = RouterWithOld(role, kind, persisted: true);

            ApplyResult result = ApplyConfirmed(router, New, persist: false, s => RouterSession.Open(s, router));

            Assert.True(result.Changed);
            Assert.Null(router.PendingToken);
            Assert.Contains(RouterStep.Confirm, router.Steps);
            Assert.Equal("admin,web", Names(router.LiveForwards));
            Assert.Equal("admin,web", Names(router.SavedForwards));
            Assert.DoesNotContain(router.Files.Keys, f => f.EndsWith("/confirm-pending.sh", StringComparison.Ordinal));
        }

        [Theory]
        [MemberData(nameof(ConfirmableSites))]
        public void AnUnconfirmedApplyIsRolledBackWithItsSavedSet(RouterRole role, BackendKind kind)
        {
            FakeRouter router = RouterWithOld(role, kind, persisted: true);

            // The new connection comes only after the watchdog fired.
            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s =>
            {
                router.FireWatchdog();
                return RouterSession.Open(s, router);
            }));

            Assert.Equal("BypassNat.RolledBack", failure.ErrorId);
            Assert.Contains("exactly its previous forwards", failure.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));
            // The saved set goes back with the rules, or the next boot would restore the unconfirmed set.
            Assert.Equal("game,web", Names(router.SavedForwards));
        }

        [Theory]
        [MemberData(nameof(ConfirmableSites))]
        public void AnUnconfirmedFirstPersistIsTakenOutAgain(RouterRole role, BackendKind kind)
        {
            FakeRouter router = RouterWithOld(role, kind);

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: true, s =>
            {
                // Kept across a reboot while the watchdog waits.
                Assert.Contains(router.Files.Keys, f => f.EndsWith("/confirm-pending.sh", StringComparison.Ordinal));
                router.FireWatchdog();
                return RouterSession.Open(s, router);
            }));

            Assert.Equal("BypassNat.RolledBack", failure.ErrorId);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.False(router.Persisted);
        }

        [Theory]
        [MemberData(nameof(Sites))]
        public void ConfirmTimeoutIsRefusedBeforeAnythingChangesWhereTheBackendHasNoWatchdog(RouterRole role, BackendKind kind)
        {
            if (Capabilities(role, kind).HasFlag(BackendCapabilities.CommitConfirmed)) return;
            FakeRouter router = RouterWithOld(role, kind);

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s => RouterSession.Open(s, router)));

            Assert.Equal("BypassNat.ConfirmNotSupported", failure.ErrorId);
            Assert.Contains("Nothing was changed", failure.Message);
            Assert.DoesNotContain(WriteStep(kind), router.Steps);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void AFailedRollbackSaysWhatTheWatchdogReportedAndWhatTheRouterHolds()
        {
            FakeRouter router = RouterWithOld(RouterRole.Bypass, BackendKind.Iptables, persisted: true);

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s =>
            {
                router.FireWatchdog("could not put back the Iptables rules");
                return RouterSession.Open(s, router);
            }));

            Assert.Equal("BypassNat.RollbackFailed", failure.ErrorId);
            Assert.Contains("the router's watchdog tried to restore its previous 2 forwards (game, web) but reported a failure: could not put back the Iptables rules", failure.Message);
            Assert.Contains("the confirmation arrived after the timeout", failure.Message);
            Assert.Matches(@"Read back: the router holds 2 forward\(s\): admin, web, which differ from its previous forwards", failure.Message);
        }

        [Fact]
        public void AWatchdogGoneWithoutTraceIsAConfirmFailedThatSaysWhatTheRouterHolds()
        {
            FakeRouter router = RouterWithOld(RouterRole.Bypass, BackendKind.Iptables);

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s =>
            {
                router.ForgetWatchdog();
                return RouterSession.Open(s, router);
            }));

            Assert.Equal("BypassNat.ConfirmFailed", failure.ErrorId);
            Assert.Contains("could not be confirmed: the router holds neither this apply's watchdog nor its outcome", failure.Message);
            Assert.Contains("the router holds 2 forward(s): admin, web, which differ from its previous forwards", failure.Message);
        }

        [Fact]
        public void AConfirmationThatCannotConnectWaitsForTheRoutersOwnRollbackAndSaysSo()
        {
            FakeRouter router = RouterWithOld(RouterRole.Bypass, BackendKind.Iptables, persisted: true);
            var clock = System.Diagnostics.Stopwatch.StartNew();

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s =>
            {
                // The change locked the admin out: the router rolls back by itself at the deadline.
                router.FireWatchdog();
                throw new BypassNatException("BypassNat.ConnectionRefused", FailureKind.ConnectionError, "refused", s.Endpoint);
            }));

            Assert.Equal("BypassNat.RolledBack", failure.ErrorId);
            Assert.Contains("a new SSH connection could not confirm it (BypassNat.ConnectionRefused) within 5 s (-ConfirmTimeout)", failure.Message);
            Assert.Contains("exactly its previous forwards", failure.Message);
            // It waited out the deadline before asking.
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(5), clock.Elapsed.ToString());
            Assert.Contains(RouterStep.ConfirmOutcome, router.Steps);
            Assert.Equal("game,web", Names(router.SavedForwards));
        }

        [Fact]
        public void CtrlCWhileConfirmingSaysTheRouterRollsBackByItself()
        {
            FakeRouter router = RouterWithOld(RouterRole.Bypass, BackendKind.Iptables);

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s => throw new OperationCanceledException()));

            Assert.Equal("BypassNat.Stopped", failure.ErrorId);
            Assert.Matches(@"^Stopped \(Ctrl-C\) before the change on 192\.0\.2\.2 was confirmed: the watchdog on the router puts back its previous forwards by itself at \d\d:\d\d:\d\d UTC\.$", failure.Message);
            Assert.NotNull(router.PendingToken);
        }

        [Fact]
        public void AWriteRefusedAfterTheWatchdogStartedSaysTheWatchdogPutsTheOldSetBack()
        {
            FakeRouter router = RouterWithOld(RouterRole.Bypass, BackendKind.Iptables);
            router.Faults[RouterStep.Load] = Fault.Refuse("iptables-restore: line 3 failed", 3);

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s => RouterSession.Open(s, router)));

            Assert.Equal("BypassNat.RouterCommandFailed", failure.ErrorId);
            Assert.Matches(@"the router keeps its previous forwards.* -ConfirmTimeout: the watchdog started on the router before the change puts back its previous forwards by itself at \d\d:\d\d:\d\d UTC, as nothing confirmed this apply\.$", failure.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void AConnectionLostAsTheWatchdogStartsSaysItMayHaveStarted()
        {
            FakeRouter router = RouterWithOld(RouterRole.Bypass, BackendKind.Iptables);
            router.Faults[RouterStep.ConfirmStart] = Fault.Drop();

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s => RouterSession.Open(s, router)));

            Assert.Equal("BypassNat.ConnectionLost", failure.ErrorId);
            Assert.Contains("-ConfirmTimeout: if the connection was lost after the watchdog started (the first step of that command), the router puts back its previous forwards by itself at about", failure.Message);
            Assert.DoesNotContain(RouterStep.Load, router.Steps);
        }

        [Fact]
        public void AWatchdogThatDoesNotStartChangesNothing()
        {
            FakeRouter router = RouterWithOld(RouterRole.Bypass, BackendKind.Iptables);
            router.Faults[RouterStep.ConfirmStart] = Fault.Refuse("the watchdog did not start (no /run/bypassnat/confirm/bypassnat.pid after 5 s)");

            var failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, New, persist: false, s => RouterSession.Open(s, router)));

            Assert.Equal("BypassNat.ConfirmNotStarted", failure.ErrorId);
            Assert.Contains("could not start the -ConfirmTimeout watchdog, so the change was not made: nothing was changed. The router said: the watchdog did not start", failure.Message);
            Assert.DoesNotContain(RouterStep.Load, router.Steps);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void ANoOpApplyWithConfirmTimeoutStartsNoWatchdog()
        {
            FakeRouter router = RouterWithOld(RouterRole.Bypass, BackendKind.Iptables);

            ApplyResult result = ApplyConfirmed(router, Old, persist: false, s => throw new InvalidOperationException("no confirmation is needed"));

            Assert.False(result.Changed);
            Assert.DoesNotContain(RouterStep.ConfirmStart, router.Steps);
        }
    }
}
