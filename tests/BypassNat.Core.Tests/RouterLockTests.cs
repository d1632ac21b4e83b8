using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using BypassNat.Backends;
using BypassNat.Persistence;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// The router-side lock's shell, run by real POSIX shells (dash, and BusyBox ash) against a real
    /// flock in a private directory instead of /run/bypassnat: a second writer waits, then gives up
    /// without running anything and names the holder; a write planned against a changed router stops;
    /// the watcher skips while a writer holds the lock.
    /// </summary>
    public sealed class RouterLockTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "bypassnat-lock-" + Guid.NewGuid().ToString("N"));
        private readonly List<Process> _holders = new List<Process>();

        public RouterLockTests() => Directory.CreateDirectory(_dir);

        public static IEnumerable<object[]> Shells() => SectionedScriptTests.Shells();

        private string Lock => Path.Combine(_dir, "lock");

        private bool HasFlock => File.Exists("/usr/bin/flock") || File.Exists("/bin/flock");

        [Theory]
        [MemberData(nameof(Shells))]
        public void AFreeLockRunsTheScriptAndLeavesItsHolderAndANewGeneration(string[] shell)
        {
            if (!HasFlock) return;
            File.WriteAllText(Path.Combine(_dir, "generation"), "before\n");
            string script = Private(RouterLock.Prologue(5, "Invoke-BypassForwardApply, by alice on ws1 as root", "before", "after")) + "echo ran\n";

            CommandResult result = Run(shell, script);

            Assert.Equal(0, result.ExitCode);
            Assert.Equal("ran\n", result.Output);
            Assert.Equal(string.Empty, result.Error);
            Assert.Equal("after\n", File.ReadAllText(Path.Combine(_dir, "generation")));
            Assert.Matches("^pid [0-9]+ since .* UTC: Invoke-BypassForwardApply, by alice on ws1 as root\n$", File.ReadAllText(Path.Combine(_dir, "holder")));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void AHeldLockFailsTheScriptAfterTheWaitNamingTheHolderAndRunsNothing(string[] shell)
        {
            if (!HasFlock) return;
            File.WriteAllText(Path.Combine(_dir, "holder"), "pid 42 since then: the other writer\n");
            File.WriteAllText(Path.Combine(_dir, "generation"), "g1\n");
            Hold();
            string marker = Path.Combine(_dir, "ran");

            CommandResult result = Run(shell, Private(RouterLock.Prologue(1, "second writer", "g1", "g2")) + $"touch '{marker}'\n");

            Assert.Equal(RouterLock.BusyExitCode, result.ExitCode);
            Assert.Equal("bypassnat-busy: pid 42 since then: the other writer", result.Error.Trim());
            Assert.False(File.Exists(marker));
            Assert.Equal("g1\n", File.ReadAllText(Path.Combine(_dir, "generation")));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void AWritePlannedAgainstAnOlderGenerationStopsBeforeChangingAnything(string[] shell)
        {
            if (!HasFlock) return;
            File.WriteAllText(Path.Combine(_dir, "generation"), "someone-else\n");
            File.WriteAllText(Path.Combine(_dir, "holder"), "pid 7 since then: the last writer\n");
            string marker = Path.Combine(_dir, "ran");

            CommandResult result = Run(shell, Private(RouterLock.Prologue(5, "late writer", "what-i-read", "mine")) + $"touch '{marker}'\n");

            Assert.Equal(RouterLock.ChangedExitCode, result.ExitCode);
            Assert.Equal("bypassnat-changed: pid 7 since then: the last writer", result.Error.Trim());
            Assert.False(File.Exists(marker));
            Assert.Equal("someone-else\n", File.ReadAllText(Path.Combine(_dir, "generation")));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void WithoutFlockTheScriptRunsWithAWarning(string[] shell)
        {
            // A PATH with no flock (the shell's builtins are all the prologue then needs).
            CommandResult result = Run(shell, "PATH=" + _dir + "\n" + Private(RouterLock.Prologue(5, "w", null, "g")) + "echo ran\n");

            Assert.Equal(0, result.ExitCode);
            Assert.Equal("ran\n", result.Output);
            Assert.Contains(RouterScript.WarningPrefix + "flock is missing on the router", result.Error);
        }

        [Fact]
        public void TheGenerationTokenIsQuotedOnlyWhenItIsPlainText()
        {
            Assert.Equal("restore-12-1700000000", RouterLock.ParseGeneration("restore-12-1700000000\n"));
            Assert.Null(RouterLock.ParseGeneration("x'; rm -rf /; '"));
            Assert.Null(RouterLock.ParseGeneration(string.Empty));
            Assert.Matches("^[0-9a-f]{32}$", RouterLock.NewGeneration());
        }

        [Fact]
        public void TheHolderTextCannotEndTheHereDocument()
        {
            string prologue = RouterLock.Prologue(5, "x\nBYPASSNAT_HOLDER\nrm -rf /", null, "g");
            Assert.Single(prologue.Split('\n'), l => l == "BYPASSNAT_HOLDER");
            Assert.Contains("x?BYPASSNAT_HOLDER?rm -rf /", prologue);
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void TheWatcherSkipsWhileAWriterHoldsTheLockAndRestoresOnceItIsFree(string[] shell)
        {
            if (!HasFlock) return;
            // A stand-in nft: the table is missing, and a load leaves a mark.
            string bin = Path.Combine(_dir, "bin");
            Directory.CreateDirectory(bin);
            string loaded = Path.Combine(_dir, "loaded");
            File.WriteAllText(Path.Combine(bin, "nft"), $"#!/bin/sh\n[ \"$1\" = -f ] && touch '{loaded}'\n[ \"$1\" = -f ]\n");
            Chmod(Path.Combine(bin, "nft"));
            string restore = Private(new PersistenceInstaller(null).RestoreScriptText()).Replace("dir=/etc/bypassnat", "dir=" + _dir);
            File.WriteAllText(Path.Combine(_dir, "ruleset.nft"), "table ip bypassnat {}\n");
            string script = $"PATH='{bin}':\"$PATH\"\nset -- --if-missing\n" + restore.Substring(restore.IndexOf('\n') + 1);

            Hold();
            CommandResult skipped = Run(shell, script);
            Assert.Equal(0, skipped.ExitCode);
            Assert.False(File.Exists(loaded));

            Release();
            CommandResult restored = Run(shell, script);
            Assert.Equal(0, restored.ExitCode);
            Assert.True(File.Exists(loaded));
            Assert.StartsWith("restore-", File.ReadAllText(Path.Combine(_dir, "generation")));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void TheRestoreRollsBackAnApplyLeftUnconfirmedOnlyOnceItsWatchdogIsGone(string[] shell)
        {
            if (!HasFlock) return;
            // The copy of the rollback that -ConfirmTimeout keeps beside the saved set: here it leaves a mark.
            string rolledBack = Path.Combine(_dir, "rolled-back");
            string pending = Path.Combine(_dir, "confirm-pending.sh");
            File.WriteAllText(pending, $"# bypassnat-confirm-token=t1\ntouch '{rolledBack}'\n");
            string bin = Path.Combine(_dir, "bin");
            Directory.CreateDirectory(bin);
            File.WriteAllText(Path.Combine(bin, "nft"), "#!/bin/sh\nexit 0\n");
            Chmod(Path.Combine(bin, "nft"));
            string restore = Private(new PersistenceInstaller(null).RestoreScriptText()).Replace("dir=/etc/bypassnat", "dir=" + _dir);
            string script = $"PATH='{bin}':\"$PATH\"\nset -- --if-missing\n" + restore.Substring(restore.IndexOf('\n') + 1);
            string state = Path.Combine(_dir, "confirm", "bypassnat");
            Directory.CreateDirectory(Path.Combine(_dir, "confirm"));

            // Its watchdog still waits (its token, a live pid): the change may yet be confirmed.
            using (Process watchdog = Process.Start("sleep", "30"))
            {
                File.WriteAllText(state + ".token", "t1\n");
                File.WriteAllText(state + ".pid", watchdog.Id + "\n");
                Assert.Equal(0, Run(shell, script).ExitCode);
                Assert.False(File.Exists(rolledBack));
                Assert.True(File.Exists(pending));
                watchdog.Kill();
                watchdog.WaitForExit();
            }

            // A reboot: /run is empty, the copy is still there.
            File.Delete(state + ".token");
            File.Delete(state + ".pid");
            CommandResult result = Run(shell, script);
            Assert.Equal(0, result.ExitCode);
            Assert.True(File.Exists(rolledBack), "the restore did not roll back the unconfirmed apply: " + result.Error);
            Assert.False(File.Exists(pending));
            Assert.Contains("never confirmed", result.Error);
        }

        // The same script with its lock in this test's directory, so no test touches the machine's /run.
        private string Private(string script) =>
            script.Replace("bypassnat_lockdir=/run/bypassnat", "bypassnat_lockdir='" + _dir + "'")
                .Replace("lockdir=/run/bypassnat", "lockdir='" + _dir + "'");

        private void Hold()
        {
            File.WriteAllText(Lock, string.Empty);
            var start = new ProcessStartInfo("flock") { UseShellExecute = false, RedirectStandardOutput = true };
            foreach (string argument in new[] { "-n", Lock, "sh", "-c", "echo held; exec sleep 60" }) start.ArgumentList.Add(argument);
            Process holder = Process.Start(start);
            _holders.Add(holder);
            Assert.Equal("held", holder.StandardOutput.ReadLine());
        }

        private void Release()
        {
            foreach (Process holder in _holders)
            {
                try { holder.Kill(true); } catch (InvalidOperationException) { }
                holder.WaitForExit();
                holder.Dispose();
            }

            _holders.Clear();
        }

        private static void Chmod(string path)
        {
            using (Process chmod = Process.Start("chmod", new[] { "+x", path })) chmod.WaitForExit();
        }

        private static CommandResult Run(string[] shell, string script) => SectionedScriptTests.Run(shell, script);

        public void Dispose()
        {
            Release();
            try { Directory.Delete(_dir, true); } catch (IOException) { }
        }
    }
}
