using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using BypassNat.Ssh;
using Xunit;
using BypassNat.Registry;

namespace BypassNat.Tests
{
    /// <summary>
    /// The -ConfirmTimeout watchdog's scripts, run by real POSIX shells (dash and BusyBox ash) with the
    /// lock and state in a private directory instead of /run/bypassnat: the start returns at once and
    /// leaves a detached watchdog that holds neither the write's lock nor its output; a confirmation
    /// stops it and removes its state; an unconfirmed one runs the rollback under the lock and leaves
    /// its outcome; a second start while one waits changes nothing. The rollback's rules are checked
    /// with stand-in tools that record what they were given.
    /// </summary>
    public sealed class CommitConfirmationTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "bypassnat-confirm-" + Guid.NewGuid().ToString("N"));

        public CommitConfirmationTests() => Directory.CreateDirectory(_dir);

        public static IEnumerable<object[]> Shells() => SectionedScriptTests.Shells();

        private static bool HasFlock => File.Exists("/usr/bin/flock") || File.Exists("/bin/flock");

        // The prefix of the bypass hop's watchdog files.
        private string State => Path.Combine(_dir, "confirm", "bypassnat");

        private string Marker => Path.Combine(_dir, "rolled-back");

        [Theory]
        [MemberData(nameof(Shells))]
        public void AConfirmedWatchdogStopsWithoutRollingBackAndLeavesNothing(string[] shell)
        {
            if (!HasFlock) return;
            var confirmation = new CommitConfirmation(RouterHop.Bypass, 60);

            CommandResult started = Start(shell, confirmation);

            Assert.Equal(0, started.ExitCode);
            Assert.Matches("confirm-deadline=[0-9]+", started.Output);
            int pid = int.Parse(File.ReadAllText(State + ".pid").Trim());
            Assert.True(Alive(pid));
            // The watchdog must not hold the write's lock (fd 9): the next writer gets it at once.
            CommandResult next = Run(shell, Private(RouterLock.Prologue(0, "next writer", null, "g2")) + "echo got-the-lock\n");
            Assert.Equal("got-the-lock\n", next.Output);

            CommandResult confirmed = Run(shell, Private(RouterLock.Prologue(5, "confirm", null, "g3")) + RouterScript.Wrap(Private(confirmation.ConfirmScript())));

            Assert.Equal("confirm=confirmed\n", confirmed.Output);
            Assert.True(WaitUntil(() => !Alive(pid)), "the watchdog is still running after the confirmation");
            Assert.False(File.Exists(State + ".token"));
            Assert.False(File.Exists(Marker));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void AnUnconfirmedWatchdogRollsBackUnderTheLockAndLeavesItsOutcome(string[] shell)
        {
            if (!HasFlock) return;
            var confirmation = new CommitConfirmation(RouterHop.Bypass, 1, null, 1);

            Assert.Equal(0, Start(shell, confirmation).ExitCode);
            int pid = WatchdogPid();

            // Its outcome is written before its other files go (a reader without the lock sees
            // "waiting" a moment longer, never nothing), so the end to wait for is the watchdog's exit.
            Assert.True(WaitUntil(() => !Alive(pid)), "the watchdog never finished");
            Assert.True(File.Exists(State + ".result"), "the watchdog ended without rolling back");
            Assert.True(File.Exists(Marker));
            Assert.Equal(confirmation.Token + " 0", string.Join(" ", File.ReadAllText(State + ".result").Split(' ').Take(2)));
            Assert.False(File.Exists(State + ".token"));
            Assert.StartsWith("rollback-", File.ReadAllText(Path.Combine(_dir, "generation")));
            // A confirmation that comes too late changes nothing and learns the outcome.
            CommandResult late = Run(shell, RouterScript.Wrap(Private(confirmation.ConfirmScript())));
            Assert.StartsWith("confirm=rolled-back 0\n", late.Output);
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void ASecondStartWhileAWatchdogWaitsChangesNothing(string[] shell)
        {
            if (!HasFlock) return;
            var first = new CommitConfirmation(RouterHop.Bypass, 60);
            Assert.Equal(0, Start(shell, first).ExitCode);

            var second = new CommitConfirmation(RouterHop.Bypass, 60);
            CommandResult refused = Start(shell, second);

            Assert.Equal(CommitConfirmation.PendingExitCode, refused.ExitCode);
            Assert.Contains("bypassnat-confirm-pending: ", refused.Error);
            Assert.Equal(first.Token + "\n", File.ReadAllText(State + ".token"));
            Run(shell, RouterScript.Wrap(Private(first.ConfirmScript())));
        }

        [Fact]
        public void TheTimeoutIsRefusedOutsideItsRange()
        {
            var e = Assert.Throws<BypassNatException>(() => new CommitConfirmation(RouterHop.Bypass, 4));
            Assert.Equal("BypassNat.InvalidConfirmTimeout", e.ErrorId);
            Assert.Contains("5 to 3600", e.Message);
            Assert.Throws<BypassNatException>(() => new CommitConfirmation(RouterHop.Bypass, 3601));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void TheRollbackPutsBackEachBackendsPreviousRulesAndRemovesWhatWasNotThere(string[] shell)
        {
            // Stand-ins: iptables-save prints a nat table with BypassNat's chains and jumps; the loaders record their input.
            string bin = Path.Combine(_dir, "bin");
            Directory.CreateDirectory(bin);
            File.WriteAllText(Path.Combine(bin, "iptables-save"),
                "#!/bin/sh\nprintf '%s\\n' '*nat' ':PREROUTING ACCEPT [0:0]' ':BYPASSNAT_PREROUTING - [0:0]' ':BYPASSNAT_POSTROUTING - [0:0]' " +
                "'-A PREROUTING -j BYPASSNAT_PREROUTING' '-A POSTROUTING -j BYPASSNAT_POSTROUTING' '-A PREROUTING -j BYPASSNAT_PREROUTING' COMMIT\n");
            File.WriteAllText(Path.Combine(bin, "iptables-restore"), $"#!/bin/sh\ncat > '{_dir}/iptables-input'\n");
            File.WriteAllText(Path.Combine(bin, "nft"), $"#!/bin/sh\ncat > '{_dir}/nft-input'\n");
            foreach (string tool in new[] { "iptables-save", "iptables-restore", "nft" }) Chmod(Path.Combine(bin, tool));
            var previous = new[] { Forwards.Make("web", "tcp", "8080") };
            var live = new[]
            {
                new KeyValuePair<IScriptedBackend, RouterState>(new NftablesBackend(), NftablesReader.Read(string.Empty)),
                new KeyValuePair<IScriptedBackend, RouterState>(new IptablesBackend(), IptablesReader.Read(string.Empty)),
            };

            string rollback = CommitConfirmation.RollbackScript(RouterHop.Bypass, string.Empty, live, RenderContext.None, null);
            CommandResult result = Run(shell, $"PATH='{bin}':\"$PATH\"\n" + rollback);

            Assert.Equal(0, result.ExitCode);
            Assert.Equal("table ip bypassnat\ndelete table ip bypassnat\n", File.ReadAllText(Path.Combine(_dir, "nft-input")));
            Assert.Equal("*nat\n-D PREROUTING -j BYPASSNAT_PREROUTING\n-D PREROUTING -j BYPASSNAT_PREROUTING\n-D POSTROUTING -j BYPASSNAT_POSTROUTING\n" +
                "-F BYPASSNAT_PREROUTING\n-X BYPASSNAT_PREROUTING\n-F BYPASSNAT_POSTROUTING\n-X BYPASSNAT_POSTROUTING\nCOMMIT\n",
                File.ReadAllText(Path.Combine(_dir, "iptables-input")));

            // With forwards before: their whole ruleset, and a jump only where the router lacks one.
            var before = new IptablesState { HasPreroutingChain = true, HasPostroutingChain = true };
            before.Forwards.AddRange(previous);
            var held = new[] { new KeyValuePair<IScriptedBackend, RouterState>(new IptablesBackend(), before) };
            File.WriteAllText(Path.Combine(bin, "iptables-save"), "#!/bin/sh\nprintf '%s\\n' '*nat' '-A PREROUTING -j BYPASSNAT_PREROUTING' COMMIT\n");
            Assert.Equal(0, Run(shell, $"PATH='{bin}':\"$PATH\"\n" + CommitConfirmation.RollbackScript(RouterHop.Bypass, string.Empty, held, RenderContext.None, null)).ExitCode);
            string loaded = File.ReadAllText(Path.Combine(_dir, "iptables-input"));
            Assert.Contains("-A BYPASSNAT_PREROUTING", loaded);
            Assert.Contains("--dport 8080", loaded);
            Assert.DoesNotContain("-I PREROUTING", loaded);
            Assert.EndsWith("-I POSTROUTING 1 -j BYPASSNAT_POSTROUTING\nCOMMIT\n", loaded);
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void ARollbackStepThatFailsDoesNotKeepTheOthersFromRunning(string[] shell)
        {
            string bin = Path.Combine(_dir, "bin");
            Directory.CreateDirectory(bin);
            File.WriteAllText(Path.Combine(bin, "nft"), "#!/bin/sh\ncat >/dev/null\necho 'Error: refused' >&2\nexit 1\n");
            Chmod(Path.Combine(bin, "nft"));
            var live = new[] { new KeyValuePair<IScriptedBackend, RouterState>(new NftablesBackend(), NftablesReader.Read(string.Empty)) };
            string persist = $"touch '{Marker}'\n";

            CommandResult result = Run(shell, $"PATH='{bin}':\"$PATH\"\n" + CommitConfirmation.RollbackScript(RouterHop.Bypass, string.Empty, live, RenderContext.None, persist));

            Assert.Equal(1, result.ExitCode);
            Assert.Contains("could not put back the Nftables rules", result.Error);
            Assert.True(File.Exists(Marker));
        }

        private CommandResult Start(string[] shell, CommitConfirmation confirmation)
        {
            string rollback = $"touch '{Marker}'\n";
            var script = new SectionedScript().Add("confirm", confirmation.StartScript(rollback), stopOnFailure: true);
            CommandResult whole = Run(shell, Private(RouterLock.Prologue(5, "apply", null, "g1") + script.Render()));
            return SectionedScript.Section(script.Parse(whole), "confirm", whole);
        }

        private string Private(string script) => script.Replace("bypassnat_lockdir=/run/bypassnat", "bypassnat_lockdir='" + _dir + "'");

        // A watchdog with a 1 s timeout may be done (and its .pid gone) before the test reads it: 0 then.
        private int WatchdogPid()
        {
            try
            {
                return int.Parse(File.ReadAllText(State + ".pid").Trim());
            }
            catch (IOException)
            {
                return 0;
            }
        }

        // Running, and not a zombie its new parent has yet to reap.
        private static bool Alive(int pid)
        {
            try
            {
                string stat = File.ReadAllText($"/proc/{pid}/stat");
                return stat.Substring(stat.LastIndexOf(')') + 2, 1) != "Z";
            }
            catch (IOException)
            {
                return false;
            }
        }

        private static bool WaitUntil(Func<bool> condition)
        {
            for (int i = 0; i < 150; i++)
            {
                if (condition()) return true;
                Thread.Sleep(100);
            }

            return condition();
        }

        private static void Chmod(string path)
        {
            using (Process chmod = Process.Start("chmod", new[] { "+x", path })) chmod.WaitForExit();
        }

        private static CommandResult Run(string[] shell, string script) => SectionedScriptTests.Run(shell, script);

        public void Dispose()
        {
            // A watchdog a failed test left behind must not outlive it.
            string pidFile = State + ".pid";
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid) && Alive(pid))
                using (Process process = Process.GetProcessById(pid)) process.Kill();
            try { Directory.Delete(_dir, true); } catch (IOException) { }
        }
    }
}
