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
