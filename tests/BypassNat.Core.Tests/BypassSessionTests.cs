using System;
using System.Collections.Generic;
using System.Linq;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Registry;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// A session (New-BypassSession) reused by one command after another against the fake router: no
    /// round trip of its own before a command, and a connection that died unnoticed is reopened and the
    /// command sent again only when the router never received it.
    /// </summary>
    public class BypassSessionTests
    {
        private static readonly BypassForward[] Set = { Forwards.Make("web", "tcp", "8080", internalPort: "80"), Forwards.Make("game", "udp", "9000") };

        private static SshSettings Settings() => new SshSettings
        {
            ComputerName = "192.0.2.2",
            HostKeyFingerprints = new List<string> { "SHA256:" + FakeRouter.FakeFingerprint },
        };

        private static ApplyResult Apply(BypassSession session, List<string> notes)
        {
            RouterSession connection = session.Connection(notes.Add);
            ForwardApplier applier = ForwardApplier.For(connection, BackendKind.Auto, RouterHop.Bypass, null);
            return applier.Apply(applier.Plan(Set), false, _ => { });
        }

        [Fact]
        public void AReusedLiveSessionSendsTheSurveyFirstWithNoCommandOfItsOwn()
        {
            var router = new FakeRouter();
            using (BypassSession session = BypassSession.Open(Settings(), router))
            {
                var notes = new List<string>();
                Assert.True(Apply(session, notes).Changed);
                int before = router.Scripts.Count;

                ApplyResult again = Apply(session, notes);

                Assert.False(again.Changed);
                // A no-op is one command: the survey. Testing the connection with a command of its own
                // cost a round trip each time.
                Assert.Equal(1, router.Scripts.Count - before);
                Assert.Contains("begin probe", router.Scripts.Last());
                Assert.Equal(1, router.Connections);
                Assert.Equal(0, session.Reopened);
                Assert.Empty(notes);
            }
        }

        [Fact]
        public void AConnectionThatDiedUnnoticedIsReopenedAndTheCommandSentAgain()
        {
            var router = new FakeRouter();
            using (BypassSession session = BypassSession.Open(Settings(), router))
            {
                var notes = new List<string>();
                Apply(session, notes);
                router.DropConnectionsUnnoticed();
                int before = router.Scripts.Count;

                ApplyResult again = Apply(session, notes);

                Assert.False(again.Changed);
                Assert.Equal("game,web", string.Join(",", router.LiveForwards.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal)));
                Assert.Equal(2, router.Connections);
                Assert.Equal(1, session.Reopened);
                Assert.Equal(BypassSessionState.Opened, session.State);
                // The router received the survey once: the dead connection sent nothing.
                Assert.Equal(1, router.Scripts.Count - before);
                string note = Assert.Single(notes);
                Assert.Contains("had lost its connection", note);
                Assert.Contains("reopened it", note);
            }
        }

        [Fact]
        public void AConnectionLostAfterTheRouterReceivedTheCommandIsNotSentAgain()
        {
            var router = new FakeRouter();
            using (BypassSession session = BypassSession.Open(Settings(), router))
            {
                var notes = new List<string>();
                Apply(session, notes);
                // The survey reaches the router, then the connection drops before its answer.
                router.Faults[RouterStep.Probe] = Fault.DropAfterEffect().Once();
                int before = router.Scripts.Count;

                var failure = Assert.Throws<BypassNatException>(() => Apply(session, notes));

                Assert.Equal("BypassNat.ConnectionLost", failure.ErrorId);
                Assert.IsNotType<CommandNotSentException>(failure);
                Assert.Equal(1, router.Scripts.Count - before);
                Assert.Equal(1, router.Connections);
                Assert.Equal(0, session.Reopened);
            }
        }

        [Fact]
        public void ASessionThatCannotReconnectIsBrokenAndSaysWhy()
        {
            var router = new FakeRouter();
            SshSettings settings = Settings();
            using (BypassSession session = BypassSession.Open(settings, router))
            {
                var notes = new List<string>();
                Apply(session, notes);
                router.DropConnectionsUnnoticed();
                // The router now presents another host key: the session must not take it.
                router.PresentedFingerprint = "c29tZSBvdGhlciBrZXksIHRoaXJ0eS10d28gYnl0ZXM";

                var failure = Assert.Throws<BypassNatException>(() => Apply(session, notes));

                Assert.StartsWith($"Session {session.Id} to 192.0.2.2 lost its connection", failure.Message);
                Assert.Contains("could not be reopened", failure.Message);
                Assert.Equal(BypassSessionState.Broken, session.State);
                Assert.Equal(1, router.Connections);
                Assert.Empty(notes);
            }
        }
    }
}
