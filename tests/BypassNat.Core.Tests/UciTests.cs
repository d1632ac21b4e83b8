using System.Linq;
using BypassNat.Backends.Uci;
using Xunit;

namespace BypassNat.Tests
{
    public class UciTests
    {
        // What `uci show firewall` printed on the lab's OpenWrt main router, with a user's own redirect
        // (named and anonymous), BypassNat's sections, and one stray with BypassNat's prefix.
        private const string UciShow =
            "firewall.@defaults[0]=defaults\n" +
            "firewall.@defaults[0].input='REJECT'\n" +
            "firewall.wan=zone\n" +
            "firewall.wan.name='wan'\n" +
            "firewall.wan.device='wan0'\n" +
            "firewall.mine=redirect\n" +
            "firewall.mine.name='my own'\n" +
            "firewall.mine.src_dport='22'\n" +
            "firewall.@redirect[1]=redirect\n" +
            "firewall.@redirect[1].name='bypassnat_web'\n" +
            "firewall.bypassnat_web=redirect\n" +
            "firewall.bypassnat_web.name='web'\n" +
            "firewall.bypassnat_web.target='DNAT'\n" +
            "firewall.bypassnat_web.src='wan'\n" +
            "firewall.bypassnat_web.dest='lan'\n" +
            "firewall.bypassnat_web.proto='tcp'\n" +
            "firewall.bypassnat_web.src_dport='8080'\n" +
            "firewall.bypassnat_web.dest_ip='192.0.2.2'\n" +
            "firewall.bypassnat_web.dest_port='8080'\n" +
            "firewall.bypassnat_web.reflection='0'\n" +
            "firewall.bypassnat_web.enabled='1'\n" +
            "firewall.bypassnat_voip_2dhq=redirect\n" +
            "firewall.bypassnat_voip_2dhq.name='voip-hq'\n" +
            "firewall.bypassnat_voip_2dhq.proto='tcp udp'\n" +
            "firewall.bypassnat_junk=include\n" +
            "firewall.bypassnat_junk.path='/tmp/x'\n";

        [Theory]
        [InlineData("web", "bypassnat_web")]
        [InlineData("voip-hq", "bypassnat_voip_2dhq")]
        [InlineData("a.b_c", "bypassnat_a_2eb_5fc")]
        public void SectionNamesAreUciNamesAndReadBackToTheForwardName(string forward, string section)
        {
            Assert.Equal(section, UciSectionName.For(forward));
            Assert.True(UciSectionName.TryParse(section, out string back));
            Assert.Equal(forward, back);
        }

        [Fact]
        public void DifferentForwardNamesNeverShareASection()
        {
            string[] names = { "web_1", "web-1", "web.1", "web_5f1", "web1" };
            Assert.Equal(names.Length, names.Select(UciSectionName.For).Distinct().Count());
        }

        [Theory]
        [InlineData("mine")]
        [InlineData("bypassnat_")]
        [InlineData("bypassnat_bad_zz")]
        [InlineData("bypassnat_cut_2")]
        [InlineData("bypassnat_a_2D")]
        public void SectionsBypassNatNeverWritesAreNotTakenForItsOwn(string section) =>
            Assert.False(UciSectionName.TryParse(section, out _));

        [Fact]
        public void RendersEachForwardAsANamedRedirectToTheBypassRouter()
        {
            string batch = UciBatch.RenderAll(new[]
            {
                UciRedirect.From(Forwards.Make("web", "tcp", "8080", internalPort: "80")),
                UciRedirect.From(Forwards.Make("voip", "tcpudp", "9001-9002", bypassPort: "19001-19002", internalPort: "9001-9002")),
                UciRedirect.From(Forwards.Make("off", "udp", "5000", enabled: "false"), "wan6", "guest"),
            });
            Assert.Equal(
                "set firewall.bypassnat_web=redirect\n" +
                "set firewall.bypassnat_web.name='web'\n" +
                "set firewall.bypassnat_web.target='DNAT'\n" +
                "set firewall.bypassnat_web.src='wan'\n" +
                "set firewall.bypassnat_web.dest='lan'\n" +
                "set firewall.bypassnat_web.proto='tcp'\n" +
                "set firewall.bypassnat_web.src_dport='8080'\n" +
                "set firewall.bypassnat_web.dest_ip='192.0.2.2'\n" +
                "set firewall.bypassnat_web.dest_port='8080'\n" +
                "set firewall.bypassnat_web.reflection='0'\n" +
                "set firewall.bypassnat_web.enabled='1'\n" +
                "set firewall.bypassnat_voip=redirect\n" +
                "set firewall.bypassnat_voip.name='voip'\n" +
                "set firewall.bypassnat_voip.target='DNAT'\n" +
                "set firewall.bypassnat_voip.src='wan'\n" +
                "set firewall.bypassnat_voip.dest='lan'\n" +
                "set firewall.bypassnat_voip.proto='tcp udp'\n" +
                "set firewall.bypassnat_voip.src_dport='9001-9002'\n" +
                "set firewall.bypassnat_voip.dest_ip='192.0.2.2'\n" +
                "set firewall.bypassnat_voip.dest_port='19001-19002'\n" +
                "set firewall.bypassnat_voip.reflection='0'\n" +
                "set firewall.bypassnat_voip.enabled='1'\n" +
                "set firewall.bypassnat_off=redirect\n" +
                "set firewall.bypassnat_off.name='off'\n" +
                "set firewall.bypassnat_off.target='DNAT'\n" +
                "set firewall.bypassnat_off.src='wan6'\n" +
                "set firewall.bypassnat_off.dest='guest'\n" +
                "set firewall.bypassnat_off.proto='udp'\n" +
                "set firewall.bypassnat_off.src_dport='5000'\n" +
                "set firewall.bypassnat_off.dest_ip='192.0.2.2'\n" +
                "set firewall.bypassnat_off.dest_port='5000'\n" +
                "set firewall.bypassnat_off.reflection='0'\n" +
                "set firewall.bypassnat_off.enabled='0'\n" +
                "commit firewall\n",
                batch);
        }

        [Fact]
        public void AForwardWithAPublicAddressGetsFirewall4sReflection()
        {
            var forward = Forwards.Make("web", "tcp", "8080").WithPublicAddress(System.Net.IPAddress.Parse("203.0.113.1"));
            Assert.Equal("1", UciRedirect.From(forward).Options["reflection"]);
        }

        [Fact]
        public void ReadsOnlyBypassNatsSectionsAndReportsStrays()
        {
            UciState state = UciReader.Parse(UciShow);
            Assert.Equal(new[] { "web", "voip-hq" }, state.Redirects.Select(r => r.Name));
            Assert.Equal(new[] { "bypassnat_junk" }, state.Strays);
            Assert.Equal(UciRedirect.From(Forwards.Make("web", "tcp", "8080", internalPort: "80")), state.Redirects[0]);
            Assert.Equal("tcp udp", state.Redirects[1].Options["proto"]);
        }

        [Fact]
        public void AnUnchangedSetNeedsNoBatch()
        {
            var web = UciRedirect.From(Forwards.Make("web", "tcp", "8080", internalPort: "80"));
            // uci show prints what the batch set, without the "set ".
            string uci = string.Concat(UciBatch.RenderAll(new[] { web }).Split('\n').Where(l => l.StartsWith("set ")).Select(l => l.Substring(4) + "\n"));
            Assert.Equal(string.Empty, UciBatch.Render(new[] { web }, UciReader.Parse(uci)));
        }

        [Fact]
        public void TheBatchTouchesOnlyBypassNatsSections()
        {
            var web = UciRedirect.From(Forwards.Make("web", "tcp", "8081", internalPort: "80"));
            var game = UciRedirect.From(Forwards.Make("game", "udp", "9000"));
            string batch = UciBatch.Render(new[] { web, game }, UciReader.Parse(UciShow));

            string[] lines = batch.TrimEnd('\n').Split('\n');
            Assert.All(lines, l => Assert.Matches(@"^(delete|set) firewall\.bypassnat_", l));
            // Gone from the set: deleted; a stray: deleted; changed: deleted and written whole; new: written.
            Assert.Equal(new[] { "delete firewall.bypassnat_voip_2dhq", "delete firewall.bypassnat_junk", "delete firewall.bypassnat_web", "set firewall.bypassnat_web=redirect" }, lines.Take(4));
            Assert.Contains("set firewall.bypassnat_web.src_dport='8081'", lines);
            Assert.Contains("set firewall.bypassnat_game=redirect", lines);
            Assert.DoesNotContain(lines, l => l.Contains("mine") || l.Contains("@redirect"));
        }

        [Theory]
        [InlineData("'web'", "web")]
        [InlineData("'it'\\''s'", "it's")]
        [InlineData("'a' 'b'", "'a' 'b'")]
        public void UnquotesValuesAsUciShowQuotesThem(string shown, string value) =>
            Assert.Equal(value, UciReader.Unquote(shown));

        [Fact]
        public void TheTransactionRollsBackOnEveryFailureAfterTheCommit()
        {
            string script = UciTransaction.Script("", "set firewall.bypassnat_web=redirect\n", new[] { "web" });
            Assert.Contains("uci -q changes firewall", script);
            Assert.Contains("checked=$(fw4 check 2>&1) || rollback", script);
            Assert.Contains("loaded=$(fw4 reload 2>&1) || rollback", script);
            Assert.Contains("uci batch 2>&1 <<'BYPASSNAT_UCI'\nset firewall.bypassnat_web=redirect\nBYPASSNAT_UCI\n", script);
            Assert.Contains("BYPASSNAT_NAMES\nweb\nBYPASSNAT_NAMES", script.Replace("<<'BYPASSNAT_NAMES'", "BYPASSNAT_NAMES"));
        }
    }
}
