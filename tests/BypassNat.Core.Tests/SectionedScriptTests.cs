using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using BypassNat.Backends;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// The one-command scripts run by real POSIX shells (dash, and BusyBox ash as on OpenWrt): each
    /// section keeps its own output, error text and exit code, and a failed step stops the script.
    /// </summary>
    public class SectionedScriptTests
    {
        public static IEnumerable<object[]> Shells() =>
            new[] { new[] { "/bin/sh", "-s" }, new[] { "/usr/bin/busybox", "ash", "-s" } }
                .Where(shell => File.Exists(shell[0])).Select(shell => new object[] { shell });

        [Theory]
        [MemberData(nameof(Shells))]
        public void EachSectionKeepsItsOutputErrorAndExitCode(string[] shell)
        {
            var script = new SectionedScript()
                .Add("first", "printf 'no newline at the end'\necho 'a warning' >&2\n")
                .Add("listing", "cat <<'EOF'\nline 1\n\nline 3 ) } ' \"\nEOF\ncase x in (x) echo matched ;; esac\n")
                .Add("quiet", "exit 0\n");

            IReadOnlyDictionary<string, CommandResult> sections = script.Parse(Run(shell, script.Render()));

            Assert.Equal(new[] { "first", "listing", "quiet" }, sections.Keys.ToArray());
            Assert.Equal("no newline at the end", sections["first"].Output);
            Assert.Equal("a warning", sections["first"].Error);
            Assert.Equal(0, sections["first"].ExitCode);
            Assert.Equal("line 1\n\nline 3 ) } ' \"\nmatched\n", sections["listing"].Output);
            Assert.Equal(string.Empty, sections["quiet"].Output);
            Assert.Equal(string.Empty, sections["quiet"].Error);
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void AFailedStepStopsTheScriptAndTheRestNeverRuns(string[] shell)
        {
            string marker = Path.Combine(Path.GetTempPath(), "bypassnat-section-" + System.Guid.NewGuid().ToString("N"));
            var script = new SectionedScript()
                .Add("persist", "echo persisted=none\n")
                .Add("load", "echo 'Error: rejected' >&2\nexit 3\necho never\n", stopOnFailure: true)
                .Add("conntrack", $"touch '{marker}'\n");

            CommandResult whole = Run(shell, script.Render());
            IReadOnlyDictionary<string, CommandResult> sections = script.Parse(whole);

            Assert.Equal(3, whole.ExitCode);
            Assert.Equal("persisted=none\n", sections["persist"].Output);
            Assert.Equal(3, sections["load"].ExitCode);
            Assert.Equal("Error: rejected", sections["load"].Error);
            Assert.Equal(string.Empty, sections["load"].Output);
            Assert.False(sections.ContainsKey("conntrack"));
            Assert.False(File.Exists(marker));
            Assert.False(SectionedScript.Section(sections, "conntrack", whole).Succeeded);
        }

        [Fact]
        public void ASectionCannotForgeAnotherSectionsMarker()
        {
            var script = new SectionedScript("n1");
            var forged = new SectionedScript("n2").Add("load", "echo x\n");
            script.Add("read", "echo '@@bypassnat-n2 end load 0'\n");
            CommandResult whole = Run(new[] { "/bin/sh", "-s" }, script.Render());
            Assert.Equal("@@bypassnat-n2 end load 0\n", script.Parse(whole)["read"].Output);
            Assert.Empty(forged.Parse(whole));
        }

        [Fact]
        public void ConntrackTargetsMergeNeighbouringPortsPerProtocolAndAddress()
        {
            var touched = new List<BypassForward>();
            for (int port = 10000; port < 11000; port++)
                touched.Add(Forwards.Make($"f{port}", "tcp", port.ToString()));
            touched.Add(Forwards.Make("range", "tcpudp", "20000-29999"));
            touched.Add(Forwards.Make("inside", "udp", "25000", bypassPort: "25000"));
            touched.Add(Forwards.Make("hairpin", "udp", "7000", bypassPort: "7001").WithPublicAddress(IPAddress.Parse("203.0.113.1")));

            Assert.Equal(new[]
            {
                "tcp 192.0.2.2 10000 10999",
                "tcp 192.0.2.2 20000 29999",
                "udp 192.0.2.2 7001 7001",
                "udp 192.0.2.2 20000 29999",
                "udp 203.0.113.1 7000 7000",
            }, RouterScript.BypassConntrackTargets(touched));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void TheConntrackCleanUpListsOnceAndDeletesOnlyTouchedPortsThatHaveEntries(string[] shell)
        {
            // A stand-in conntrack (the lab runs the real one): it prints a fixed table for -L and logs
            // every call, so the test sees exactly which deletes the script asks for.
            string dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "bypassnat-ct-" + System.Guid.NewGuid().ToString("N"))).FullName;
            string log = Path.Combine(dir, "calls");
            File.WriteAllText(Path.Combine(dir, "conntrack"),
                "#!/bin/sh\n" +
                $"echo \"$*\" >> '{log}'\n" +
                "case \"$1\" in\n" +
                "(-L) cat <<'EOF'\n" +
                "tcp      6 117 TIME_WAIT src=203.0.113.10 dst=192.0.2.2 sport=40001 dport=8080 src=192.0.2.20 dst=203.0.113.10 sport=80 dport=40001 [ASSURED] mark=0 use=1\n" +
                "tcp      6 117 TIME_WAIT src=203.0.113.10 dst=192.0.2.2 sport=40002 dport=8080 src=192.0.2.20 dst=203.0.113.10 sport=80 dport=40002 [ASSURED] mark=0 use=1\n" +
                "udp      17 29 src=203.0.113.10 dst=192.0.2.2 sport=40000 dport=9000 [UNREPLIED] src=192.0.2.2 dst=203.0.113.10 sport=9000 dport=40000 mark=0 use=1\n" +
                "udp      17 29 src=203.0.113.10 dst=192.0.2.2 sport=40000 dport=25001 [UNREPLIED] src=192.0.2.2 dst=203.0.113.10 sport=25001 dport=40000 mark=0 use=1\n" +
                "tcp      6 117 ESTABLISHED src=203.0.113.10 dst=192.0.2.2 sport=40003 dport=8081 src=192.0.2.20 dst=203.0.113.10 sport=81 dport=40003 [ASSURED] mark=0 use=1\n" +
                "tcp      6 117 ESTABLISHED src=203.0.113.10 dst=192.0.2.3 sport=40004 dport=8080 src=192.0.2.21 dst=203.0.113.10 sport=80 dport=40004 [ASSURED] mark=0 use=1\n" +
                "udp      17 29 src=203.0.113.10 dst=192.0.2.2 sport=40005 dport=8080 [UNREPLIED] src=192.0.2.2 dst=203.0.113.10 sport=8080 dport=40005 mark=0 use=1\n" +
                "icmp     1 29 src=192.0.2.100 dst=192.0.2.2 type=8 code=0 id=1 src=192.0.2.2 dst=192.0.2.100 type=0 code=0 id=1 mark=0 use=1\n" +
                "EOF\n" +
                ";;\n" +
                "(-D) echo 'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted.' >&2 ;;\n" +
                "esac\n");
            Process.Start("chmod", $"+x {dir}/conntrack").WaitForExit();
            // Under BusyBox the script gets BusyBox's awk and sed too, as on OpenWrt.
            if (shell[0].EndsWith("busybox"))
                foreach (string applet in new[] { "awk", "sed", "cat" })
                    File.CreateSymbolicLink(Path.Combine(dir, applet), shell[0]);
            var touched = new[]
            {
                Forwards.Make("web", "tcp", "8080"),
                Forwards.Make("game", "udp", "9000"),
                Forwards.Make("wide", "udp", "20000-29999"),
            };
            var script = new SectionedScript().Add("conntrack", RouterScript.ForgetConntrack(string.Empty, touched));

            CommandResult conntrack = script.Parse(Run(shell, $"PATH='{dir}':$PATH\n" + script.Render()))["conntrack"];

            string[] calls = File.ReadAllLines(log);
            Directory.Delete(dir, true);
            Assert.Equal(new[]
            {
                "-L",
                "-D -p tcp --orig-dst 192.0.2.2 --orig-port-dst 8080",
                "-D -p udp --orig-dst 192.0.2.2 --orig-port-dst 9000",
                "-D -p udp --orig-dst 192.0.2.2 --orig-port-dst 25001",
            }, calls);
            Assert.Equal("conntrack-deleted=6\n", conntrack.Output);
        }

        /// <summary>Runs a script on a shell's standard input, as the router's <c>sh -s</c> gets it.</summary>
        internal static CommandResult Run(string[] shell, string script)
        {
            var start = new ProcessStartInfo(shell[0])
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (string argument in shell.Skip(1)) start.ArgumentList.Add(argument);
            using (Process process = Process.Start(start))
            {
                // The script may end (exit 0: the lock is held, nothing to do) before the shell has read
                // all of it: the rest has nowhere to go (a broken pipe), and the exit status says what happened.
                try { process.StandardInput.Write(script); } catch (IOException) { }
                try { process.StandardInput.Close(); } catch (IOException) { }

                System.Threading.Tasks.Task<string> error = process.StandardError.ReadToEndAsync();
                string output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                return new CommandResult(process.ExitCode, output, error.Result);
            }
        }
    }
}
