using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Diagnosis;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// What Debug-BypassForward tells the user for each state of the router's conntrack table, word for
    /// word, and which entries count as a forward's (protocol, bypass port, public address and port).
    /// </summary>
    public class DiagnosisCauseTests
    {
        private static string Tcp(string dst, int dport, string replySrc, int replySport, bool unreplied, string src = "203.0.113.10") =>
            $"tcp      6 117 SYN_SENT src={src} dst={dst} sport=40312 dport={dport} {(unreplied ? "[UNREPLIED] " : "")}src={replySrc} dst={src} sport={replySport} dport=40312 mark=0 use=1";

        private static string Udp(string dst, int dport, string replySrc, int replySport, bool unreplied, string src = "203.0.113.10") =>
            $"udp      17 28 src={src} dst={dst} sport=40000 dport={dport} {(unreplied ? "[UNREPLIED] " : "")}src={replySrc} dst={src} sport={replySport} dport=40000 mark=0 use=1";

        private static List<ConntrackEntry> Parse(params string[] lines) => lines.Select(ConntrackEntry.Parse).Where(e => e != null).ToList();

        private static readonly BypassForward Web = Forwards.Make("web", "Tcp", "8080", internalPort: "80");

        [Fact]
        public void No_connection_at_all_says_to_connect_from_outside_and_names_the_bypass_address_and_port()
        {
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("router1", Web, Parse());
            Assert.Equal(DiagnosisStatus.NoTraffic, d.Status);
            Assert.Equal("router1", d.ComputerName);
            Assert.Equal("web", d.Name);
            Assert.Equal("Tcp", d.Protocol);
            Assert.Equal("192.0.2.2:8080", d.Bypass);
            Assert.Equal("192.0.2.20:80", d.Internal);
            Assert.Equal(0, d.Connections);
            Assert.Equal(0, d.Replied);
            Assert.Equal(0, d.Unreplied);
            Assert.Empty(d.Clients);
            Assert.Equal("No connection to this forward is in the router's connection table now.", d.Cause);
            Assert.Equal("Connect from outside and run this again; if nothing shows up then, the main router does not send the port to 192.0.2.2:8080.", d.Fix);
        }

        [Fact]
        public void Replied_connections_are_ok_with_no_cause_and_no_fix()
        {
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", Web, Parse(Tcp("192.0.2.2", 8080, "192.0.2.20", 80, false), Tcp("192.0.2.2", 8080, "192.0.2.20", 80, false, "198.51.100.7")));
            Assert.Equal(DiagnosisStatus.Ok, d.Status);
            Assert.Equal(2, d.Connections);
            Assert.Equal(2, d.Replied);
            Assert.Equal(0, d.Unreplied);
            Assert.Empty(d.Clients);
            Assert.Null(d.Cause);
            Assert.Null(d.Fix);
        }

        [Fact]
        public void Unreplied_to_the_device_names_the_count_the_device_and_each_client_once()
        {
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", Web, Parse(
                Tcp("192.0.2.2", 8080, "192.0.2.20", 80, true),
                Tcp("192.0.2.2", 8080, "192.0.2.20", 80, true),
                Tcp("192.0.2.2", 8080, "192.0.2.20", 80, true, "198.51.100.7"),
                Tcp("192.0.2.2", 8080, "192.0.2.20", 80, false)));
            Assert.Equal(DiagnosisStatus.Unreplied, d.Status);
            Assert.Equal(4, d.Connections);
            Assert.Equal(1, d.Replied);
            Assert.Equal(3, d.Unreplied);
            Assert.Equal(new[] { "203.0.113.10", "198.51.100.7" }, d.Clients);
            Assert.Equal("3 connection(s) were sent on to the device 192.0.2.20 but no reply came back through this router: " +
                "the device's gateway is not this router (192.0.2.2), so its replies take another path and are dropped, or the device does not answer on that port at all.", d.Cause);
        }

        [Fact]
        public void Unreplied_with_source_nat_cannot_be_the_gateway_and_says_to_check_the_device()
        {
            BypassForward snat = Forwards.Make("web", "Tcp", "8080", internalPort: "80", sourceNat: "true");
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", snat, Parse(Tcp("192.0.2.2", 8080, "192.0.2.20", 80, true)));
            Assert.Equal(DiagnosisStatus.Unreplied, d.Status);
            Assert.Equal("1 connection(s) were sent on to the device 192.0.2.20 but no reply came back through this router: " +
                "the device's gateway is not this router (192.0.2.2), so its replies take another path and are dropped.", d.Cause);
            Assert.Equal("Check that the device answers on 80 and that its firewall lets the router (192.0.2.2) in.", d.Fix);
        }

        [Fact]
        public void Unreplied_but_not_sent_to_the_device_started_before_the_rule()
        {
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", Web, Parse(Tcp("192.0.2.2", 8080, "192.0.2.2", 8080, true), Tcp("192.0.2.2", 8080, "192.0.2.20", 80, false)));
            Assert.Equal(DiagnosisStatus.NotForwarded, d.Status);
            Assert.Equal(1, d.Unreplied);
            Assert.Equal(1, d.Replied);
            Assert.Equal("1 connection(s) to the forward's port were not sent to the device: they started before the rule existed and keep their old path until they expire.", d.Cause);
            Assert.Equal("Run Invoke-BypassForwardApply again (it clears the entries of the ports it changes), or wait for them to expire.", d.Fix);
        }

        [Fact]
        public void Only_entries_of_the_forwards_protocol_address_and_ports_count()
        {
            BypassForward range = Forwards.Make("voip", "Udp", "9001-9003", internalPort: "9001-9003");
            List<ConntrackEntry> entries = Parse(
                Udp("192.0.2.2", 9001, "192.0.2.20", 9001, false),
                Udp("192.0.2.2", 9003, "192.0.2.20", 9003, false),
                Udp("192.0.2.2", 9000, "192.0.2.20", 9000, true),   // below the range
                Udp("192.0.2.2", 9004, "192.0.2.20", 9004, true),   // above the range
                Udp("192.0.2.3", 9002, "192.0.2.20", 9002, true),   // another bypass address
                Tcp("192.0.2.2", 9002, "192.0.2.20", 9002, true));  // another protocol
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", range, entries);
            Assert.Equal(DiagnosisStatus.Ok, d.Status);
            Assert.Equal(2, d.Connections);
        }

        [Fact]
        public void Connections_to_the_public_address_count_on_the_external_port_only()
        {
            BypassForward web = Forwards.Make("web", "Tcp", "8080", internalPort: "80", bypassPort: "18080").WithPublicAddress(IPAddress.Parse("203.0.113.1"));
            List<ConntrackEntry> entries = Parse(
                Tcp("203.0.113.1", 8080, "192.0.2.20", 80, true, "192.0.2.30"),
                Tcp("203.0.113.1", 18080, "192.0.2.20", 80, true, "192.0.2.31"),
                Tcp("192.0.2.2", 18080, "192.0.2.20", 80, false));
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", web, entries);
            Assert.Equal(2, d.Connections);
            Assert.Equal(new[] { "192.0.2.30" }, d.Clients);
            // Without a public address, the same entry at the public address is someone else's.
            BypassForward plain = Forwards.Make("web", "Tcp", "8080", internalPort: "80", bypassPort: "18080");
            Assert.Equal(1, ForwardDiagnosis.Diagnose("r", plain, entries).Connections);
        }

        [Fact]
        public void A_tcp_udp_forward_counts_both_protocols()
        {
            BypassForward both = Forwards.Make("dns", "TcpUdp", "53");
            ForwardDiagnosis d = ForwardDiagnosis.Diagnose("r", both, Parse(Tcp("192.0.2.2", 53, "192.0.2.20", 53, false), Udp("192.0.2.2", 53, "192.0.2.20", 53, false)));
            Assert.Equal(2, d.Connections);
        }

        [Theory]
        [InlineData("icmp     1 29 src=203.0.113.10 dst=192.0.2.2 type=8 code=0 id=1 src=192.0.2.2 dst=203.0.113.10 type=0 code=0 id=1 mark=0 use=1")]
        [InlineData("tcp      6 117 SYN_SENT src=203.0.113.10 dst=192.0.2.2 sport=40312 dport=8080")]
        [InlineData("tcp      6 117 SYN_SENT src=x dst=192.0.2.2 sport=40312 dport=8080 src=192.0.2.20 dst=203.0.113.10 sport=80 dport=40312")]
        [InlineData("tcp      6 117 SYN_SENT src=203.0.113.10 dst=192.0.2.2 sport=40312 dport=8080 src=192.0.2.20 dst=203.0.113.10 sport=-1 dport=40312")]
        [InlineData("tcp      6 117 SYN_SENT src=203.0.113.10 dst=192.0.2.2 sport=40312 dport=http src=192.0.2.20 dst=203.0.113.10 sport=80 dport=40312")]
        [InlineData("tcp      6 117 SYN_SENT src=203.0.113.10 dst=y sport=40312 dport=8080 src=192.0.2.20 dst=203.0.113.10 sport=80 dport=40312")]
        [InlineData("tcp      6 117 SYN_SENT src=203.0.113.10 dst=192.0.2.2 sport=40312 dport=8080 src=z dst=203.0.113.10 sport=80 dport=40312")]
        [InlineData("tcp 6 117")]
        [InlineData("")]
        public void Lines_that_are_no_tcp_or_udp_entry_are_skipped(string line)
        {
            Assert.Null(ConntrackEntry.Parse(line));
        }

        [Fact]
        public void A_udp_entry_has_no_state_and_a_tcp_entry_its_state()
        {
            ConntrackEntry udp = ConntrackEntry.Parse(Udp("192.0.2.2", 9000, "192.0.2.20", 9000, true));
            Assert.Equal("udp", udp.Protocol);
            Assert.Null(udp.State);
            Assert.True(udp.Unreplied);
            Assert.Equal(9000, udp.ReplySourcePort);
            ConntrackEntry tcp = ConntrackEntry.Parse("  tcp      6 431999 ESTABLISHED src=203.0.113.10 dst=192.0.2.2 sport=1 dport=2 src=192.0.2.20 dst=203.0.113.10 sport=3 dport=1 [ASSURED] mark=0 use=1");
            Assert.Equal("ESTABLISHED", tcp.State);
            Assert.Equal(2, tcp.DestinationPort);
            Assert.Equal(3, tcp.ReplySourcePort);
            Assert.False(tcp.Unreplied);
            // conntrack prints no state word for a TCP entry in some versions: the fourth word is then a field.
            Assert.Null(ConntrackEntry.Parse("tcp 6 117 src=203.0.113.10 dst=192.0.2.2 sport=1 dport=2 src=192.0.2.20 dst=203.0.113.10 sport=3 dport=1").State);
        }
    }
}
