using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Registry;
using BypassNat.Ssh;
using BypassNat.Validation;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// What an apply reports (the ApplyResult the cmdlet prints) and says when a late step fails, against
    /// the fake router's state: each name, address and sentence is checked against what the router holds.
    /// </summary>
    public class ApplyOutcomeTests
    {
        private static readonly BypassForward Web = Forwards.Make("web", "tcp", "8080", internalPort: "80");
        private static readonly BypassForward Game = Forwards.Make("game", "udp", "9000");
        private static readonly BypassForward Admin = Forwards.Make("admin", "tcp", "8443", internalPort: "443");
        private static readonly BypassForward Dns = Forwards.Make("dns", "udp", "5353", internalPort: "53");

        private static SshSettings Settings() => new SshSettings
        {
            ComputerName = "192.0.2.2",
            HostKeyFingerprints = new List<string> { "SHA256:" + FakeRouter.FakeFingerprint },
        };

        private static ApplyResult Apply(FakeRouter router, IReadOnlyList<BypassForward> desired, bool persist = false, BackendKind kind = BackendKind.Auto)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
            {
                ForwardApplier applier = ForwardApplier.For(session, kind, RouterHop.Bypass, null);
                return applier.Apply(applier.Plan(desired), persist, _ => { });
            }
        }

        private static T With<T>(FakeRouter router, Func<ForwardApplier, T> use, BackendKind kind = BackendKind.Auto)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
                return use(ForwardApplier.For(session, kind, RouterHop.Bypass, null));
        }

        private static string Names(IEnumerable<BypassForward> forwards) => string.Join(",", forwards.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal));

        private static BypassForward Hairpin(BypassForward forward, string address) => forward.WithPublicAddress(IPAddress.Parse(address));

        [Fact]
        public void TheResultNamesEachForwardByWhatTheApplyDidToIt()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web, Game, Dns });
            BypassForward moved = Forwards.Make("game", "udp", "9001");

            ApplyResult result = Apply(router, new[] { Web, moved, Admin });

            Assert.True(result.Changed);
            Assert.Equal(new[] { "admin" }, result.Added);
            Assert.Equal(new[] { "game" }, result.Modified);
            Assert.Equal(new[] { "dns" }, result.Removed);
            Assert.Equal(new[] { "web" }, result.Unchanged);
            Assert.Equal("Bypass", result.Role);
            Assert.Equal("Iptables", result.Backend);
            Assert.Equal("192.0.2.2", result.ComputerName);
            Assert.Null(result.MovedFrom);
            Assert.Equal("admin,game,web", Names(router.LiveForwards));
            Assert.Equal("9001", router.LiveForwards.Single(f => f.Name == "game").ExternalPort.ToString());

            ApplyResult again = Apply(router, new[] { Web, moved, Admin });
            Assert.False(again.Changed);
            Assert.Empty(again.Added);
            Assert.Empty(again.Modified);
            Assert.Empty(again.Removed);
            Assert.Equal(new[] { "admin", "game", "web" }, again.Unchanged.OrderBy(n => n, StringComparer.Ordinal));
        }

        [Fact]
        public void TheResultSaysWhichPublicAddressTheHairpinMovedFrom()
        {
            var router = new FakeRouter();
            ApplyResult first = Apply(router, new[] { Hairpin(Web, "203.0.113.5"), Game });
            Assert.Equal("203.0.113.5", first.PublicAddress);
            Assert.Null(first.PreviousPublicAddress);

            // A new WAN address (a dynamic-DNS name resolving elsewhere): the hairpin rules move with it.
            ApplyResult moved = Apply(router, new[] { Hairpin(Web, "203.0.113.6"), Game });
            Assert.True(moved.Changed);
            Assert.Equal("203.0.113.6", moved.PublicAddress);
            Assert.Equal("203.0.113.5", moved.PreviousPublicAddress);
            Assert.Equal(IPAddress.Parse("203.0.113.6"), router.LiveForwards.Single(f => f.Name == "web").PublicAddress);

            // A change elsewhere keeps the address: no "previous" one.
            ApplyResult other = Apply(router, new[] { Hairpin(Web, "203.0.113.6"), Admin });
            Assert.Equal("203.0.113.6", other.PublicAddress);
            Assert.Null(other.PreviousPublicAddress);

            // No hairpin left: none now, the old one before.
            ApplyResult none = Apply(router, new[] { Web, Admin });
            Assert.Null(none.PublicAddress);
            Assert.Equal("203.0.113.6", none.PreviousPublicAddress);
            Assert.Null(router.LiveForwards.Single(f => f.Name == "web").PublicAddress);
        }

        [Fact]
        public void AChangeOfBackendMovesTheForwardsAndClearsTheOldBackend()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web, Game });
            // nft is installed later (an upgrade): the user asks for it.
            router.ProbeOutput = "nft=nftables v1.0.6 (Lester Gooch #5)\niptables=iptables v1.8.9 (nf_tables)\n";

            string plan = With(router, applier =>
            {
                Assert.Equal(BackendKind.Nftables, applier.Choice.Backend.Kind);
                Assert.Equal("game,web", Names(applier.ReadOtherState().Forwards));
                return applier.Plan(new[] { Web, Admin }).Describe();
            }, BackendKind.Nftables);
            Assert.Contains("remove   BypassNat's rules left in the other backend (2 forward(s), moved here)", plan);

            ApplyResult result = Apply(router, new[] { Web, Admin }, kind: BackendKind.Nftables);

            Assert.True(result.Changed);
            Assert.Equal("Nftables", result.Backend);
            Assert.Equal("Iptables", result.MovedFrom);
            Assert.DoesNotContain("BYPASSNAT", router.Nat.Save());
            router.Holding = BackendKind.Nftables;
            Assert.Equal("admin,web", Names(router.LiveForwards));
            Assert.False(With(router, applier => applier.ReadOtherState().Present, BackendKind.Nftables));
        }

        [Fact]
        public void WithOneBackendThereIsNoOtherStateToRead()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web });

            Assert.Null(With(router, applier => applier.ReadOtherState()));
            string plan = With(router, applier => applier.Plan(new[] { Web, Admin }).Describe());
            Assert.Contains("admin", plan);
            Assert.DoesNotContain("other backend", plan);
        }

        [Fact]
        public void ARouterCheckRefusesAForwardOfTheSessionsOwnSshPortUnlessForced()
        {
            var router = new FakeRouter();
            BypassForward ssh = Forwards.Make("ssh", "tcp", "2222", bypassPort: "22", internalPort: "22");
            BypassForward other = Forwards.Make("other", "tcp", "2223", bypassPort: "23", internalPort: "22", internalAddress: "192.0.2.21");

            IReadOnlyList<ForwardIssue> issues = With(router, applier => applier.CheckOnRouter(new[] { ssh, other }, force: false));
            ForwardIssue issue = Assert.Single(issues);
            Assert.Equal("BypassNat.SshPortCapture", issue.ErrorId);
            Assert.Equal(1, issue.Row);
            Assert.Equal("BypassPort", issue.Field);

            Assert.Empty(With(router, applier => applier.CheckOnRouter(new[] { ssh, other }, force: true)));
            Assert.Empty(router.UnknownScripts);
        }

        [Fact]
        public void AReadBackThatFailsSaysTheRulesAreAppliedButNotVerified()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web, Game });
            router.Faults[RouterStep.ReadBack] = Fault.Refuse("iptables-save: Could not fetch rule set generation id: Resource temporarily unavailable");

            BypassNatException failure = Assert.Throws<BypassNatException>(() => Apply(router, new[] { Web, Admin }));

            Assert.Contains("read the rules back after applying them; they are applied but not verified", failure.Message);
            Assert.Contains("Resource temporarily unavailable", failure.Message);
            // True: the kernel took the new set.
            Assert.Equal("admin,web", Names(router.LiveForwards));
        }

        [Fact]
        public void WhenPuttingTheSavedSetBackFailsTooTheErrorSaysTheSavedSetHoldsTheNewForwards()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web, Game }, persist: true);
            router.Faults[RouterStep.Load] = Fault.Refuse("iptables-restore: line 7 failed", 3);
            // The save ahead of the load succeeds; the one that would put the old set back is refused.
            router.Faults[RouterStep.Save] = Fault.Refuse("tee: /etc/bypassnat/ruleset.iptables: No space left on device").After(1);

            BypassNatException failure = Assert.Throws<BypassNatException>(() => Apply(router, new[] { Web, Admin }));

            Assert.Equal("BypassNat.RouterCommandFailed", failure.ErrorId);
            Assert.Contains("iptables-restore: line 7 failed", failure.Message);
            Assert.Contains("Putting the saved set back failed too (", failure.Message);
            Assert.Contains("No space left on device", failure.Message);
            Assert.Contains("it holds the new forwards, so the router's next boot or flush would restore those. Run the apply again.", failure.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.Equal("admin,web", Names(router.SavedForwards));
        }
            private static IReadOnlyList<BypassForward> RemoveAll(FakeRouter router)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
                return ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null).RemoveAll();
        }

        /// <summary>A router whose iptables holds web and game, and whose nftables holds admin (a half-finished move).</summary>
        private static FakeRouter RouterWithBothBackends()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web, Game });
            var other = new FakeRouter { ProbeOutput = "nft=nftables v1.0.6 (Lester Gooch #5)\n" };
            Apply(other, new[] { Admin }, kind: BackendKind.Nftables);
            foreach (KeyValuePair<string, string> table in other.NftTables) router.NftTables[table.Key] = table.Value;
            router.ProbeOutput = "nft=nftables v1.0.6 (Lester Gooch #5)\niptables=iptables v1.8.9 (nf_tables)\n";
            router.Steps.Clear();
            return router;
        }

        [Fact]
        public void RemovingEverythingClearsBothBackendsAndReturnsEveryForwardTheyHeld()
        {
            FakeRouter router = RouterWithBothBackends();

            Assert.Equal("admin,game,web", Names(RemoveAll(router)));

            Assert.DoesNotContain("BYPASSNAT", router.Nat.Save());
            router.Holding = BackendKind.Nftables;
            Assert.Empty(router.LiveForwards);
            Assert.Empty(router.UnknownScripts);
        }

        [Fact]
        public void ARemovalRefusedInTheSecondBackendSaysTheFirstIsGoneAndTheSecondIsAsItWas()
        {
            FakeRouter router = RouterWithBothBackends();
            router.Faults[RouterStep.Load] = Fault.Refuse("the kernel refused it", 1).After(1);

            BypassNatException failure = Assert.Throws<BypassNatException>(() => RemoveAll(router));

            Assert.Matches("what -Persist installed is gone and so are the (Iptables|Nftables) rules, but the router still holds the (Nftables|Iptables) rules as they were", failure.Message);
            string gone = System.Text.RegularExpressions.Regex.Match(failure.Message, "so are the (\\w+) rules").Groups[1].Value;
            bool iptablesGone = !router.Nat.Save().Contains("BYPASSNAT");
            bool nftablesGone = router.NftTables.Count == 0 || router.NftTables.Values.All(t => !t.Contains("admin"));
            Assert.Equal(gone == "Iptables", iptablesGone);
            Assert.Equal(gone == "Nftables", nftablesGone);
            Assert.NotEqual(iptablesGone, nftablesGone);
        }

        [Fact]
        public void ARemovalWhoseReadBackFailsSaysTheRulesAreRemovedButNotVerified()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web, Game });
            router.Faults[RouterStep.ReadBack] = Fault.Refuse("iptables-save: Resource temporarily unavailable");

            BypassNatException failure = Assert.Throws<BypassNatException>(() => RemoveAll(router));

            Assert.Contains("read BypassNat's Iptables rules back after removing them; they are removed but not verified", failure.Message);
            Assert.Contains("Resource temporarily unavailable", failure.Message);
            Assert.Empty(router.LiveForwards);
        }
            private static ApplyResult ApplyConfirmed(FakeRouter router, IReadOnlyList<BypassForward> desired, Func<SshSettings, RouterSession> open)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
            {
                ForwardApplier applier = ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null);
                return applier.ApplyConfirmed(applier.Plan(desired), false, CommitConfirmation.MinimumSeconds, open, _ => { }, _ => { });
            }
        }

        [Fact]
        public void AWriteStoppedByAPendingConfirmationSaysWhenThatApplysRollbackComes()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web });
            // The fake's waiting watchdog rolls back at 1700000060 (Unix time).
            router.PendingToken = "an0ther0apply";

            BypassNatException failure = Assert.Throws<BypassNatException>(() => Apply(router, new[] { Web, Admin }));

            Assert.Equal("BypassNat.ConfirmPending", failure.ErrorId);
            Assert.Contains("An earlier apply with -ConfirmTimeout on 192.0.2.2 (Bypass hop) is still waiting for its confirmation " +
                "(it restores the forwards from before that apply at 22:14:20 UTC)", failure.Message);
            Assert.Equal("web", Names(router.LiveForwards));
        }

        [Theory]
        [InlineData("", "its previous state (no forwards) by itself")]
        [InlineData("web", "its previous forward (web) by itself")]
        [InlineData("web,game", "its previous 2 forwards (game, web) by itself")]
        public void ARolledBackApplySaysWhatTheWatchdogRestoredAndWithinWhatTime(string before, string restored)
        {
            var router = new FakeRouter();
            BypassForward[] held = new[] { Web, Game }.Where(f => before.Split(',').Contains(f.Name)).ToArray();
            if (held.Length > 0) Apply(router, held);

            BypassNatException failure = Assert.Throws<BypassNatException>(() => ApplyConfirmed(router, new[] { Admin }, s =>
            {
                router.FireWatchdog();
                return RouterSession.Open(s, router);
            }));

            Assert.Equal("BypassNat.RolledBack", failure.ErrorId);
            Assert.Contains($"within {CommitConfirmation.MinimumSeconds} s (-ConfirmTimeout), so the router's watchdog restored " + restored, failure.Message);
            Assert.Equal(string.Join(",", held.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal)), Names(router.LiveForwards));
        }
            [Fact]
        public void WhenASaveAndItsUndoBothFailTheErrorSaysWhatTheRouterWasReadBackToHold()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web, Game }, persist: true);
            router.Steps.Clear();
            // Every save writes its files, then fails (a disk that fills up as the last file goes in):
            // the undo put the old files back before failing too.
            router.Faults[RouterStep.Save] = Fault.FailAfterEffect("mv: cannot move '/etc/bypassnat/restore.sh.bypassnat-new': No space left on device");

            BypassNatException failure = Assert.Throws<BypassNatException>(() => Apply(router, new[] { Web, Admin }));

            Assert.Contains("No forwards were applied: the router keeps the forwards it had. Its saved set still holds those forwards (read back after the failure).", failure.Message);
            Assert.Contains(RouterStep.SavedRead, router.Steps);
            Assert.DoesNotContain(RouterStep.Load, router.Steps);
            Assert.Equal("game,web", Names(router.SavedForwards));
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void AFirstPersistWhoseUndoFailsSaysItsFilesMayHoldTheNewSet()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web, Game });
            router.Faults[RouterStep.Save] = Fault.FailAfterEffect("systemctl: Failed to enable unit");
            router.Faults[RouterStep.Uninstall] = Fault.Refuse("rm: cannot remove '/etc/bypassnat': Read-only file system");

            BypassNatException failure = Assert.Throws<BypassNatException>(() => Apply(router, new[] { Web, Admin }, persist: true));

            Assert.Contains("No forwards were applied: the router keeps the forwards it had. Undoing the partial save failed too, so the files and hooks of -Persist on it may hold the new set: ", failure.Message);
            Assert.Contains("Read-only file system", failure.Message);
            Assert.EndsWith("Run Remove-BypassForward -All to clear them, or apply again.", failure.Message);
            // True: the new set's files are there, and the live rules are the old ones.
            Assert.True(router.Persisted);
            Assert.Equal("admin,web", Names(router.SavedForwards));
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void AFirstPersistWhoseSaveIsRefusedWithoutATraceSaysNothingOfItIsOnTheRouter()
        {
            var router = new FakeRouter();
            Apply(router, new[] { Web });
            router.Faults[RouterStep.Save] = Fault.Refuse("sudo: a password is required");
            router.Faults[RouterStep.Uninstall] = Fault.Refuse("sudo: a password is required");

            BypassNatException failure = Assert.Throws<BypassNatException>(() => Apply(router, new[] { Web, Admin }, persist: true));

            Assert.Equal("BypassNat.SudoRefused", failure.ErrorId);
            Assert.Contains("No forwards were applied: the router keeps the forwards it had. Nothing of -Persist is on it (read back after the failure).", failure.Message);
            Assert.False(router.Persisted);
            Assert.Empty(router.Files);
        }
    }
}
