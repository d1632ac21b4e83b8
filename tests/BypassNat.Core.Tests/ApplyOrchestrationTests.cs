using System;
using System.Collections.Generic;
using System.Linq;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Ssh;
using BypassNat.Tests.Properties;
using Xunit;
using BypassNat.Registry;

namespace BypassNat.Tests
{
    /// <summary>
    /// The apply, verify and roll-back orchestration (ForwardApplier, and the remove paths) against a
    /// fake router that lies, fails and drops (<see cref="FakeRouter"/>): every error says what the
    /// router now holds, and the router's state afterwards (live rules and -Persist's saved set) is
    /// what the error says. Each guarantee here has a lab test as well (Reliability.Tests.ps1); these
    /// fail when the guarantee's code is deleted, without a lab.
    /// </summary>
    public class ApplyOrchestrationTests : IClassFixture<ApplyOrchestrationTests.FaultTally>
    {
        /// <summary>Counts the faults the fake router was made to commit, for the run's summary.</summary>
        public sealed class FaultTally : IDisposable
        {
            private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Errors = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();

            public static void Add(string errorId) => Errors.AddOrUpdate(errorId, 1, (_, n) => n + 1);

            public void Dispose() =>
                TestCounts.Record($"fake router: {Errors.Values.Sum()} faults injected, each error checked against the router's state afterwards ({string.Join(", ", Errors.OrderBy(e => e.Key).Select(e => $"{e.Key.Replace("BypassNat.", "")} {e.Value}"))})");
        }

        private static readonly BypassForward Web = Forwards.Make("web", "tcp", "8080", internalPort: "80");
        private static readonly BypassForward Game = Forwards.Make("game", "udp", "9000");
        private static readonly BypassForward Admin = Forwards.Make("admin", "tcp", "8443", internalPort: "443");

        private static readonly BypassForward[] Old = { Web, Game };
        private static readonly BypassForward[] New = { Web, Admin };

        private static SshSettings Settings() => new SshSettings
        {
            ComputerName = "192.0.2.2",
            HostKeyFingerprints = new List<string> { "SHA256:" + FakeRouter.FakeFingerprint },
            CommandTimeout = TimeSpan.FromSeconds(42),
        };

        /// <summary>A router that holds <see cref="Old"/>, applied through the code under test (and saved, with <paramref name="persisted"/>).</summary>
        private static FakeRouter RouterWithOld(bool persisted)
        {
            var router = new FakeRouter();
            Apply(router, Old, persist: persisted);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.Equal(persisted ? "game,web" : "", Names(router.SavedForwards));
            router.Steps.Clear();
            return router;
        }

        private static ApplyResult Apply(FakeRouter router, IReadOnlyList<BypassForward> desired, bool persist = false, List<string> warnings = null)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
            {
                ForwardApplier applier = ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null);
                return applier.Apply(applier.Plan(desired), persist, w => warnings?.Add(w));
            }
        }

        private static BypassNatException ApplyFails(FakeRouter router, IReadOnlyList<BypassForward> desired, bool persist = false)
        {
            var failure = Assert.Throws<BypassNatException>(() => Apply(router, desired, persist));
            FaultTally.Add(failure.ErrorId);
            return failure;
        }

        private static string Names(IEnumerable<BypassForward> forwards) => string.Join(",", forwards.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal));

        // Steps of the failed command after the first one of kind <paramref name="from"/>.
        private static List<RouterStep> After(FakeRouter router, RouterStep from) => router.Steps.SkipWhile(s => s != from).Skip(1).ToList();

        [Fact]
        public void TheFakeRouterTakesAnApplyAndItsReadBackLikeARealOne()
        {
            var router = new FakeRouter();
            ApplyResult first = Apply(router, Old, persist: true);
            Assert.True(first.Changed);
            Assert.Equal(2, first.SshCommands);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.Equal("game,web", Names(router.SavedForwards));

            ApplyResult again = Apply(router, Old);
            Assert.False(again.Changed);
            Assert.Equal(1, again.SshCommands);

            ApplyResult change = Apply(router, New);
            Assert.True(change.Changed);
            Assert.Equal("admin,web", Names(router.LiveForwards));
            Assert.Equal("admin,web", Names(router.SavedForwards));
        }

        [Fact]
        public void ALoadThatClaimsSuccessButLoadsNothingFailsTheReadBackAndSaysWhatTheRouterHolds()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            router.Faults[RouterStep.Load] = Fault.Pretend();

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.VerificationFailed", failure.ErrorId);
            Assert.Matches(@"it now holds 2 forward\(s\): (game, web|web, game)\.", failure.Message);
            Assert.Matches(@"add +admin", failure.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void AReadBackThatDiffersFromWhatWasWrittenFailsTheApply()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            string before = router.Nat.Save();
            // The kernel takes the new set, but what it lists is the old one (another program
            // changed it in between, or the listing is wrong): an apply never trusts the exit code alone.
            router.Faults[RouterStep.ReadBack] = Fault.Lie(_ => before);

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.VerificationFailed", failure.ErrorId);
            Assert.Matches(@"read back from 192\.0\.2\.2 differ from what was applied; it now holds 2 forward\(s\): (game, web|web, game)\.", failure.Message);
        }

        [Fact]
        public void AReadBackMissingOneForwardNamesTheForwardsTheRouterHolds()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            router.Faults[RouterStep.ReadBack] = Fault.Lie(r => string.Join("\n", r.Nat.Save().Split('\n').Where(l => !l.Contains("name=admin"))));

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.VerificationFailed", failure.ErrorId);
            Assert.Contains("it now holds 1 forward(s): web.", failure.Message);
        }

        [Fact]
        public void AKernelThatRefusesTheLoadChangesNothingAndTheRestOfTheScriptNeverRuns()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            router.Faults[RouterStep.Load] = Fault.Refuse("iptables-restore: line 7 failed", 3);

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.RouterCommandFailed", failure.ErrorId);
            Assert.Contains("the kernel rejected the whole transaction, so the router keeps its previous forwards", failure.Message);
            Assert.Contains("iptables-restore: line 7 failed", failure.Message);
            // Stop-on-failure: no conntrack clean-up and no read-back after a refused transaction.
            Assert.Empty(After(router, RouterStep.Load));
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void WhenTheKernelRefusesTheLoadTheSavedSetOfAnEarlierPersistIsRolledBack()
        {
            FakeRouter router = RouterWithOld(persisted: true);
            router.Faults[RouterStep.Load] = Fault.Refuse("iptables-restore: line 7 failed", 3);

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.RouterCommandFailed", failure.ErrorId);
            Assert.Contains("keeps its previous forwards", failure.Message);
            // The saved set was written first in the same command (the watcher must never see new rules
            // beside an old file), so it held the new set until the rollback put the old one back.
            Assert.Equal(new[] { RouterStep.Save, RouterStep.Load, RouterStep.Save }, router.Steps.Where(s => s == RouterStep.Save || s == RouterStep.Load));
            Assert.Equal("game,web", Names(router.SavedForwards));
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void ARefusedFirstPersistLeavesNothingOfItAndAppliesNothing()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            // The save wrote its files, then sudo refused to enable the units.
            router.Faults[RouterStep.Save] = Fault.FailAfterEffect("sudo: a password is required").Once();

            BypassNatException failure = ApplyFails(router, New, persist: true);

            Assert.Equal("BypassNat.SudoRefused", failure.ErrorId);
            Assert.Contains("No forwards were applied: the router keeps the forwards it had. Nothing of -Persist was left on it.", failure.Message);
            Assert.DoesNotContain(RouterStep.Load, router.Steps);
            Assert.False(router.Persisted);
            Assert.Empty(router.Files);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void ARefusedSaveOfAnEarlierPersistPutsItsSavedSetBackAndAppliesNothing()
        {
            FakeRouter router = RouterWithOld(persisted: true);
            router.Faults[RouterStep.Save] = Fault.FailAfterEffect("mv: cannot move '/etc/bypassnat/restore.sh.bypassnat-new': No space left on device").Once();

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.RouterCommandFailed", failure.ErrorId);
            Assert.Contains("No space left on device", failure.Message);
            Assert.Contains("No forwards were applied: the router keeps the forwards it had. Its saved set (from an earlier -Persist) was put back to them.", failure.Message);
            Assert.DoesNotContain(RouterStep.Load, router.Steps);
            Assert.Equal("game,web", Names(router.SavedForwards));
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void AConnectionDroppedBeforeTheLoadLeavesTheOldSetAndTheNextApplyConverges()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            router.Faults[RouterStep.Load] = Fault.Drop().Once();

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.ConnectionLost", failure.ErrorId);
            Assert.Contains("the router holds either its previous forwards or the new ones, never a mix", failure.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));

            Assert.True(Apply(router, New).Changed);
            Assert.Equal("admin,web", Names(router.LiveForwards));
        }

        [Fact]
        public void AConnectionDroppedAfterTheLoadLeavesTheNewSetAndSaysTheSavedSetMayHoldItToo()
        {
            FakeRouter router = RouterWithOld(persisted: true);
            router.Faults[RouterStep.Load] = Fault.DropAfterEffect().Once();

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.ConnectionLost", failure.ErrorId);
            Assert.Contains("either its previous forwards or the new ones, never a mix", failure.Message);
            Assert.Contains("The saved set on the router is written first in the same command, so it may already hold the new forwards", failure.Message);
            Assert.Equal("admin,web", Names(router.LiveForwards));
            Assert.Equal("admin,web", Names(router.SavedForwards));

            // Nothing left to do: the next apply finds the router on the new set, live and saved.
            Assert.False(Apply(router, New).Changed);
        }

        [Fact]
        public void ACommandTimeoutSaysWhatTheRouterMayHoldAndTheNextApplyConverges()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            router.Faults[RouterStep.Load] = Fault.TimeOutAfterEffect().Once();

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal("BypassNat.CommandTimeout", failure.ErrorId);
            Assert.Contains("did not finish within 42 s (-CommandTimeout)", failure.Message);
            Assert.Contains("either its previous forwards or the new ones, never a mix", failure.Message);
            Apply(router, New);
            Assert.Equal("admin,web", Names(router.LiveForwards));
        }

        [Theory]
        [InlineData("sudo: a password is required", 1, "BypassNat.SudoRefused")]
        [InlineData("sudo: sorry, user bnadmin is not allowed to execute '/usr/sbin/iptables-restore' as root", 1, "BypassNat.SudoRefused")]
        [InlineData("sh: 1: iptables-restore: not found", 127, "BypassNat.ToolNotFound")]
        [InlineData("iptables-restore v1.8.9 (nf_tables): Permission denied (you must be root)", 1, "BypassNat.NotRoot")]
        public void ARefusedLoadHasTheIdOfItsCauseAndKeepsThePreviousForwards(string error, int exitCode, string errorId)
        {
            FakeRouter router = RouterWithOld(persisted: false);
            router.Faults[RouterStep.Load] = Fault.Refuse(error, exitCode);

            BypassNatException failure = ApplyFails(router, New);

            Assert.Equal(errorId, failure.ErrorId);
            Assert.Contains("the router keeps its previous forwards", failure.Message);
            Assert.Contains(error, failure.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void ARouterWithNeitherNftNorIptablesIsReportedAsAMissingToolBeforeAnythingChanges()
        {
            var router = new FakeRouter { ProbeOutput = string.Empty };
            BypassNatException failure = ApplyFails(router, New);
            Assert.Equal("BypassNat.ToolNotFound", failure.ErrorId);
            Assert.Equal(FailureKind.NotInstalled, failure.Kind);
            Assert.Contains("has no nft or iptables-restore", failure.Message);
            Assert.DoesNotContain(RouterStep.Load, router.Steps);
            Assert.DoesNotContain(RouterStep.Save, router.Steps);
        }

        [Fact]
        public void APasswordReachesNoScriptTraceOrError()
        {
            const string secret = "s3cret-Pa55phrase";
            FakeRouter router = RouterWithOld(persisted: true);
            var lines = new List<string>();
            SshSettings settings = Settings();
            settings.Password = secret;
            settings.KeyPassphrase = secret;
            using (RouterSession session = RouterSession.Open(settings, router))
            {
                session.Trace = lines.Add;
                session.TraceScript = lines.Add;
                session.Starting = lines.Add;
                ForwardApplier applier = ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null);
                applier.Apply(applier.Plan(New), true, lines.Add);
                router.Faults[RouterStep.Load] = Fault.Refuse("iptables-restore: line 7 failed", 3);
                ForwardApplier again = ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null);
                var failure = Assert.Throws<BypassNatException>(() => again.Apply(again.Plan(Old), true, lines.Add));
                lines.Add(failure.ToString());
            }

            Assert.True(lines.Count > 5);
            Assert.DoesNotContain(lines, l => l.Contains(secret));
            Assert.DoesNotContain(router.Scripts, s => s.Contains(secret));
            Assert.DoesNotContain(router.Files.Values, f => f.Contains(secret));
        }

        [Fact]
        public void EachStepIsNamedAsAPersonWouldNotByItsShell()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            var progress = new List<string>();
            var verbose = new List<string>();
            using (RouterSession session = RouterSession.Open(Settings(), router))
            {
                session.Starting = progress.Add;
                session.Trace = verbose.Add;
                ForwardApplier applier = ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null);
                applier.Apply(applier.Plan(New), false, _ => { });
            }

            int enabled = New.Count(f => f.Enabled);
            Assert.Equal(2, progress.Count);
            Assert.Equal("reading the router", progress[0]);
            Assert.StartsWith($"writing {enabled} forward(s) and verifying (", progress[1]);
            Assert.Equal(2, verbose.Count);
            Assert.Matches(@"^SSH \S+: reading the router: exit 0 in \d+\.\d\d s\.$", verbose[0]);
            Assert.DoesNotContain(progress.Concat(verbose), line => line.Contains("bypassnat_") || line.Contains("()"));
        }

        [Fact]
        public void AWriteOfAPlanAnotherWriterOvertookChangesNothing()
        {
            FakeRouter router = RouterWithOld(persisted: false);
            using (RouterSession session = RouterSession.Open(Settings(), router))
            {
                ForwardApplier applier = ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null);
                ApplyPlan plan = applier.Plan(New);
                // Another writer (an apply from elsewhere, the watcher) between this survey and this write.
                router.Generation = "another-writer";
                var failure = Assert.Throws<BypassNatException>(() => applier.Apply(plan, false, _ => { }));
                Assert.Equal("BypassNat.RouterChanged", failure.ErrorId);
                Assert.Contains("Nothing was changed by this command", failure.Message);
            }

            Assert.DoesNotContain(RouterStep.Load, router.Steps);
            Assert.Equal("game,web", Names(router.LiveForwards));
        }

        [Fact]
        public void RemovingANamedForwardIsVerifiedAndRolledBackLikeAnApply()
        {
            FakeRouter router = RouterWithOld(persisted: true);
            router.Faults[RouterStep.Load] = Fault.Pretend().Once();

            // What Remove-BypassForward game does: the set without it, applied without -Persist.
            BypassNatException pretended = ApplyFails(router, new[] { Web });
            Assert.Equal("BypassNat.VerificationFailed", pretended.ErrorId);
            Assert.Matches(@"it now holds 2 forward\(s\)", pretended.Message);

            router.Faults[RouterStep.Load] = Fault.Refuse("iptables-restore: line 3 failed", 3).Once();
            BypassNatException refused = ApplyFails(router, new[] { Web });
            Assert.Equal("BypassNat.RouterCommandFailed", refused.ErrorId);
            Assert.Contains("keeps its previous forwards", refused.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.Equal("game,web", Names(router.SavedForwards));

            Apply(router, new[] { Web });
            Assert.Equal("web", Names(router.LiveForwards));
            Assert.Equal("web", Names(router.SavedForwards));
        }

        [Fact]
        public void RemovingEverythingFailsLoudlyWhenTheRulesAreStillThere()
        {
            FakeRouter router = RouterWithOld(persisted: true);
            router.Faults[RouterStep.Load] = Fault.Pretend().Once();

            var failure = Assert.Throws<BypassNatException>(() => RemoveAll(router));
            Assert.Equal("BypassNat.VerificationFailed", failure.ErrorId);
            Assert.Contains("are still on 192.0.2.2 after removing them", failure.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));

            router.Faults[RouterStep.Load] = Fault.Refuse("iptables-restore: line 2 failed", 1).Once();
            var refused = Assert.Throws<BypassNatException>(() => RemoveAll(router));
            Assert.Equal("BypassNat.RouterCommandFailed", refused.ErrorId);
            // One command: the uninstall ran before the kernel refused the removal, and the error says both.
            Assert.Contains("what -Persist installed is gone", refused.Message);
            Assert.Contains("still holds the Iptables rules as they were", refused.Message);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.False(router.Persisted);

            Assert.Equal("game,web", Names(RemoveAll(router)));
            Assert.Empty(router.LiveForwards);
            Assert.Empty(router.Files);
            Assert.DoesNotContain("BYPASSNAT", router.Nat.Save());
        }

        private static IReadOnlyList<BypassForward> RemoveAll(FakeRouter router)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
                return ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null).RemoveAll();
        }
    }
}
