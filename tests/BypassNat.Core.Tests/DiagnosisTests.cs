using System.Collections.Generic;
using System.Linq;
using BypassNat.Diagnosis;
using Xunit;

namespace BypassNat.Tests
{
    public class DiagnosisTests
    {
        // conntrack -L lines as conntrack 1.4.7 prints them (Debian 12).
        private const string Unreplied =
            "tcp      6 117 SYN_SENT src=203.0.113.10 dst=192.0.2.2 sport=40312 dport=8080 [UNREPLIED] src=192.0.2.20 dst=203.0.113.10 sport=80 dport=40312 mark=0 use=1";
        private const string Replied =
            "tcp      6 118 TIME_WAIT src=203.0.113.10 dst=192.0.2.2 sport=40314 dport=8080 src=192.0.2.20 dst=203.0.113.10 sport=80 dport=40314 [ASSURED] mark=0 use=1";
        private const string NotNated =
            "udp      17 28 src=203.0.113.10 dst=192.0.2.2 sport=40000 dport=9000 [UNREPLIED] src=192.0.2.2 dst=203.0.113.10 sport=9000 dport=40000 mark=0 use=1";

        private static readonly BypassForward Web = Forwards.Make("web", "Tcp", "8080", internalPort: "80");
        private static readonly BypassForward Game = Forwards.Make("game", "Udp", "9000");

        private static List<ConntrackEntry> Parse(params string[] lines) => lines.Select(ConntrackEntry.Parse).ToList();

        // A restricted forward: only 198.51.100.0/24 may use it.
        private static readonly BypassForward Restricted = Forwards.Make("only", "Tcp", "8080", internalPort: "80")
            .WithAllowedSource(SourceSet.Of(new[] { Prefix("198.51.100.0/24") }));

        private static Ipv4Prefix Prefix(string text)
        {
            Assert.True(Ipv4Prefix.TryParse(text, out Ipv4Prefix prefix));
            return prefix;
        }

        // From 203.0.113.10, which Restricted does not admit: not DNATed (the router itself refused it).
        private const string Refused =
            "tcp      6 9 CLOSE src=203.0.113.10 dst=192.0.2.2 sport=40320 dport=8080 src=192.0.2.2 dst=203.0.113.10 sport=8080 dport=40320 mark=0 use=1";
        private const string RefusedUnreplied =
            "tcp      6 117 SYN_SENT src=203.0.113.10 dst=192.0.2.2 sport=40321 dport=8080 [UNREPLIED] src=192.0.2.2 dst=203.0.113.10 sport=8080 dport=40321 mark=0 use=1";

        [Fact]
        public void Counts_clients_AllowedSource_does_not_admit_apart_instead_of_calling_them_old_connections()
        {
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", Restricted, Parse(Refused, RefusedUnreplied));
            Assert.Equal(DiagnosisStatus.NotAllowed, d.Status);
            Assert.Equal(2, d.NotAdmitted);
            Assert.Equal(0, d.Connections);
            Assert.Equal("198.51.100.0/24", d.AllowedSource);
            Assert.Contains("AllowedSource (198.51.100.0/24) does not admit (203.0.113.10)", d.Cause);
            Assert.Contains("only from 198.51.100.0/24 (2 from other clients, not forwarded)", d.Path[1].Detail);

            // The same entries for a forward open to every client are the old-connection case.
            Assert.Equal(DiagnosisStatus.NotForwarded, ForwardDiagnosis.Diagnose("r", Web, Parse(RefusedUnreplied)).Status);
        }

        [Fact]
        public void Draws_each_hop_of_the_path_with_what_shows_it()
        {
            var facts = new PathFacts { DevicePort = DevicePortProbe.Open };
            ForwardDiagnosis gateway = ForwardDiagnosis.Diagnose("r", Web, Parse(Unreplied), facts);
            Assert.Equal(new[] { "main router", "bypass router", "proxy", "conntrack", "device" }, gateway.Path.Select(h => h.Hop));
            Assert.Equal(new[] { HopState.Ok, HopState.Ok, HopState.NotNeeded, HopState.Failed, HopState.Failed }, gateway.Path.Select(h => h.State));
            Assert.Equal(HopState.Failed, gateway.DeviceGateway);
            Assert.Equal(HopState.Ok, gateway.DevicePort);
            Assert.Contains("its gateway is another router", gateway.Path[4].Detail);

            // The device does not answer the router either: the device is the cause, not its gateway.
            ForwardDiagnosis closed = ForwardDiagnosis.Diagnose("r", Web, Parse(Unreplied), new PathFacts { DevicePort = DevicePortProbe.Closed });
            Assert.Equal(HopState.Failed, closed.DevicePort);
            Assert.NotEqual(HopState.Failed, closed.DeviceGateway);
            Assert.Contains("does not answer the router either", closed.Cause);

            // Unhooked rules and an unexempted proxy are this router's hops failing.
            ForwardDiagnosis unhooked = ForwardDiagnosis.Diagnose("r", Web, Parse(Replied),
                new PathFacts { Hooked = false, Proxy = HopState.Failed, ProxyDetail = "not exempted" });
            Assert.Equal(HopState.Failed, unhooked.BypassRule);
            Assert.Equal(HopState.Failed, unhooked.ProxyExemption);
            Assert.Equal(HopState.Ok, unhooked.Conntrack);
            Assert.Equal(HopState.Ok, unhooked.DeviceGateway);

            ForwardDiagnosis idle = ForwardDiagnosis.Diagnose("r", Game, Parse());
            Assert.Equal(HopState.Unknown, idle.MainRouter);
            Assert.Equal(HopState.Unknown, idle.DevicePort);
            Assert.Contains("UDP", idle.Path[4].Detail);
        }

        [Fact]
        public void The_device_probe_reads_only_its_own_lines_and_never_quotes_user_text()
        {
            string script = DevicePortProbe.Script(new[] { new KeyValuePair<System.Net.IPAddress, int>(System.Net.IPAddress.Parse("192.0.2.20"), 80) });
            Assert.Contains("bypassnat_probe 192.0.2.20 80", script);
            IReadOnlyDictionary<string, string> found = DevicePortProbe.Parse("192.0.2.20 80 open\nnoise\n192.0.2.21 81 closed\n");
            Assert.Equal("open", found[DevicePortProbe.Key(System.Net.IPAddress.Parse("192.0.2.20"), 80)]);
            Assert.Equal("closed", found["192.0.2.21 81"]);
            Assert.Equal(2, found.Count);
        }

        [Fact]
        public void The_device_probe_skips_an_nc_without_z_instead_of_calling_the_port_closed()
        {
            // A router whose nc has no -z (usage without it, and a failing -z) but whose socat connects.
            string bin = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "bypassnat-probe-" + System.Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(bin);
            try
            {
                WriteTool(bin, "nc", "echo 'usage: nc [-lnvw] HOST PORT' >&2\nexit 1\n");
                WriteTool(bin, "socat", "exit 0\n");
                WriteTool(bin, "grep", "exec /bin/grep \"$@\"\n");
                string script = DevicePortProbe.Script(new[] { new KeyValuePair<System.Net.IPAddress, int>(System.Net.IPAddress.Parse("192.0.2.20"), 80) });
                var start = new System.Diagnostics.ProcessStartInfo("/bin/sh", "-s") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
                start.Environment["PATH"] = bin;
                using (var shell = System.Diagnostics.Process.Start(start))
                {
                    shell.StandardInput.Write(script);
                    shell.StandardInput.Close();
                    string output = shell.StandardOutput.ReadToEnd();
                    Assert.True(shell.WaitForExit(10000));
                    Assert.Equal("open", DevicePortProbe.Parse(output)["192.0.2.20 80"]);
                }
            }
            finally
            {
                System.IO.Directory.Delete(bin, true);
            }
        }

        private static void WriteTool(string bin, string name, string body)
        {
            string path = System.IO.Path.Combine(bin, name);
            System.IO.File.WriteAllText(path, "#!/bin/sh\n" + body);
            using (var chmod = System.Diagnostics.Process.Start("chmod", new[] { "+x", path })) chmod.WaitForExit();
        }

        [Fact]
        public void Parses_both_directions_and_the_unreplied_flag()
        {
            ConntrackEntry entry = ConntrackEntry.Parse(Unreplied);
            Assert.Equal("tcp", entry.Protocol);
            Assert.Equal("SYN_SENT", entry.State);
            Assert.Equal("203.0.113.10", entry.Source.ToString());
            Assert.Equal("192.0.2.2", entry.Destination.ToString());
            Assert.Equal(8080, entry.DestinationPort);
            Assert.Equal("192.0.2.20", entry.ReplySource.ToString());
            Assert.Equal(80, entry.ReplySourcePort);
            Assert.True(entry.Unreplied);
            Assert.False(ConntrackEntry.Parse(Replied).Unreplied);
            Assert.Null(ConntrackEntry.Parse("conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown."));
        }

        [Fact]
        public void Flags_connections_sent_to_the_device_without_a_reply_as_the_gateway_problem()
        {
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", Web, Parse(Unreplied, Replied));
            Assert.Equal(DiagnosisStatus.Unreplied, d.Status);
            Assert.Equal(2, d.Connections);
            Assert.Equal(1, d.Unreplied);
            Assert.Equal(new[] { "203.0.113.10" }, d.Clients);
            Assert.Contains("the device's gateway is not this router (192.0.2.2)", d.Cause);
            Assert.Equal("Make 192.0.2.2 the device's gateway, or set SourceNat for this forward (the device then sees 192.0.2.2 instead of the client).", d.Fix);
        }

        [Fact]
        public void Replied_connections_are_ok_and_no_connection_is_no_traffic()
        {
            Assert.Equal(DiagnosisStatus.Ok, ForwardDiagnosis.Diagnose("r", Web, Parse(Replied)).Status);
            Assert.Equal(DiagnosisStatus.NoTraffic, ForwardDiagnosis.Diagnose("r", Game, Parse(Replied)).Status);
        }

        [Fact]
        public void An_unreplied_flow_that_was_never_dnated_started_before_the_rule()
        {
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", Game, Parse(NotNated, Unreplied));
            Assert.Equal(DiagnosisStatus.NotForwarded, d.Status);
            Assert.Equal(1, d.Connections);
        }
    }
}
