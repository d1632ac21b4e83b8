using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading;
using BypassNat.Diagnosis;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// Debug-BypassForward's read of the conntrack table, run for real by /bin/sh against a stand-in
    /// conntrack that records its arguments: one listing per distinct address, the entries parsed, and a
    /// router without conntrack or with a failing one reported as such.
    /// </summary>
    public sealed class ConntrackReaderTests : IDisposable
    {
        private readonly string _bin = Path.Combine(Path.GetTempPath(), "bypassnat-conntrack-" + Guid.NewGuid().ToString("N"));

        public ConntrackReaderTests() => Directory.CreateDirectory(_bin);

        public void Dispose() => Directory.Delete(_bin, true);

        /// <summary>Runs each script with sh, its PATH being only the stand-in tools' folder and the system's.</summary>
        private sealed class ShellRouter : IRouterConnector, IRouterConnection
        {
            private readonly string _path;
            private readonly bool _noSbin;

            /// <summary><paramref name="noSbin"/>: a router whose sbin folders lack the tools (this machine's have conntrack).</summary>
            public ShellRouter(string path, bool noSbin = false)
            {
                _path = path;
                _noSbin = noSbin;
            }

            public IRouterConnection Connect(SshSettings settings, HostKeyTrust trust, CancellationToken cancel) => this;
            public void CheckLogin(SshSettings settings) { }
            public string Login => "test";
            public bool IsConnected => true;
            public void Abort() { }
            public void Dispose() { }

            public CommandResult Run(string script)
            {
                var start = new ProcessStartInfo("/bin/sh", "-s") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                start.Environment["PATH"] = _path;
                using (Process sh = Process.Start(start))
                {
                    sh.StandardInput.Write(_noSbin ? script.Replace(BypassNat.Backends.RouterScript.Preamble, string.Empty) : script);
                    sh.StandardInput.Close();
                    var output = sh.StandardOutput.ReadToEndAsync();
                    string error = sh.StandardError.ReadToEnd();
                    if (!sh.WaitForExit(20000)) { sh.Kill(); throw new TimeoutException("the script did not finish"); }
                    return new CommandResult(sh.ExitCode, output.Result, error);
                }
            }
        }

        private RouterSession Open(bool sudo = false) => RouterSession.Open(
            new SshSettings { ComputerName = "192.0.2.2", HostKeyFingerprints = new List<string> { "SHA256:" + FakeRouter.FakeFingerprint }, UseSudo = sudo },
            new ShellRouter(_bin + ":/usr/bin:/bin"));

        private void Tool(string name, string body)
        {
            string path = Path.Combine(_bin, name);
            File.WriteAllText(path, "#!/bin/sh\n" + body);
            using (Process chmod = Process.Start("chmod", new[] { "+x", path })) chmod.WaitForExit();
        }

        [Fact]
        public void Lists_the_table_once_for_each_distinct_address_and_parses_the_entries()
        {
            string log = Path.Combine(_bin, "calls");
            Tool("conntrack", $"echo \"$*\" >> {log}\n" +
                "echo \"tcp      6 117 SYN_SENT src=203.0.113.10 dst=$3 sport=40312 dport=8080 [UNREPLIED] src=192.0.2.20 dst=203.0.113.10 sport=80 dport=40312 mark=0 use=1\"\n" +
                "echo 'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.' >&2\n");
            IReadOnlyList<ConntrackEntry> entries;
            using (RouterSession session = Open())
                entries = ConntrackReader.Read(session, new[] { IPAddress.Parse("192.0.2.2"), IPAddress.Parse("203.0.113.1"), IPAddress.Parse("192.0.2.2") });
            Assert.Equal(new[] { "-L --orig-dst 192.0.2.2", "-L --orig-dst 203.0.113.1" }, File.ReadAllLines(log));
            Assert.Equal(new[] { "192.0.2.2", "203.0.113.1" }, entries.Select(e => e.Destination.ToString()));
            Assert.All(entries, e => Assert.True(e.Unreplied));
        }

        [Fact]
        public void With_sudo_the_listing_runs_through_sudo_n()
        {
            string log = Path.Combine(_bin, "calls");
            Tool("conntrack", "exit 0\n");
            Tool("sudo", $"echo \"$*\" >> {log}\n");
            using (RouterSession session = Open(sudo: true))
                Assert.Empty(ConntrackReader.Read(session, new[] { IPAddress.Parse("192.0.2.2") }));
            Assert.Equal(new[] { "-n conntrack -L --orig-dst 192.0.2.2" }, File.ReadAllLines(log));
        }

        [Fact]
        public void A_router_without_conntrack_is_told_to_install_it()
        {
            using (RouterSession session = RouterSession.Open(
                new SshSettings { ComputerName = "192.0.2.2", HostKeyFingerprints = new List<string> { "SHA256:" + FakeRouter.FakeFingerprint } }, new ShellRouter(_bin, noSbin: true)))
            {
                BypassNatException e = Assert.Throws<BypassNatException>(() => ConntrackReader.Read(session, new[] { IPAddress.Parse("192.0.2.2") }));
                Assert.Equal("BypassNat.ToolNotFound", e.ErrorId);
                Assert.Equal("The router 192.0.2.2 lacks a tool needed to read its connection tracking table (conntrack -L) (conntrack): conntrack: not found", e.Message);
            }
        }

        [Fact]
        public void A_failing_listing_stops_the_read_with_its_message()
        {
            string log = Path.Combine(_bin, "calls");
            Tool("conntrack", $"echo \"$*\" >> {log}\necho 'conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters' >&2\nexit 1\n");
            using (RouterSession session = Open())
            {
                BypassNatException e = Assert.Throws<BypassNatException>(() => ConntrackReader.Read(session, new[] { IPAddress.Parse("192.0.2.2"), IPAddress.Parse("203.0.113.1") }));
                Assert.Equal("BypassNat.RouterCommandFailed", e.ErrorId);
                Assert.Equal("The router 192.0.2.2 could not read its connection tracking table (conntrack -L) (exit code 1): conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters", e.Message);
            }

            // The first failure ends the script: the second address is never listed.
            Assert.Single(File.ReadAllLines(log));
        }
    }
}
