using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using BypassNat.Persistence;
using BypassNat.Proxy;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    public class NftablesExemptionTests : IDisposable
    {
        // nft -a list ruleset on OpenClash over firewall4 (trimmed): its tproxy chain is jumped to from
        // fw4's mangle_prerouting, where BypassNat's rule for "web" already is; a second proxy's tproxy
        // sits in a chain no prerouting base chain reaches; BypassNat's own table is not the proxy's.
        private const string Ruleset =
            "table inet fw4 { # handle 3\n" +
            "\tset lan_ips { # handle 5\n" +
            "\t\ttype ipv4_addr\n" +
            "\t\tflags interval\n" +
            "\t\telements = { 192.0.2.0/24,\n" +
            "\t\t\t     198.51.100.0/24 }\n" +
            "\t}\n\n" +
            "\tchain prerouting { # handle 1\n" +
            "\t\ttype filter hook prerouting priority filter; policy accept;\n" +
            "\t\tiifname \"br-lan\" jump helper_lan comment \"!fw4: Handle lan IPv4/IPv6 helper assignment\" # handle 10\n" +
            "\t}\n\n" +
            "\tchain mangle_prerouting { # handle 2\n" +
            "\t\ttype filter hook prerouting priority mangle; policy accept;\n" +
            "\t\tct direction reply ct status dnat ip saddr 192.0.2.20 tcp sport 80 accept comment \"bypassnat;name=web;ext=8080;role=reply\" # handle 40\n" +
            "\t\tmeta l4proto { tcp, udp } jump openclash_mangle # handle 41\n" +
            "\t}\n\n" +
            "\tchain dstnat { # handle 4\n" +
            "\t\ttype nat hook prerouting priority dstnat; policy accept;\n" +
            "\t\tiifname \"br-lan\" jump dstnat_lan # handle 12\n" +
            "\t}\n\n" +
            "\tchain openclash_mangle { # handle 6\n" +
            "\t\tip daddr @lan_ips return # handle 30\n" +
            "\t\tmeta l4proto { tcp, udp } tproxy ip to 127.0.0.1:7895 meta mark set 0x00000162 accept # handle 31\n" +
            "\t}\n\n" +
            "\tchain helper_lan { # handle 7\n" +
            "\t\ttcp dport 21 ct helper set \"ftp\" # handle 13\n" +
            "\t}\n" +
            "}\n" +
            "table ip bypassnat { # handle 9\n" +
            "\tchain prerouting { # handle 1\n" +
            "\t\ttype nat hook prerouting priority dstnat - 10; policy accept;\n" +
            "\t\tip daddr 192.0.2.2 tcp dport 8080 dnat to 192.0.2.20:80 comment \"bypassnat;name=web;ext=8080\" # handle 3\n" +
            "\t}\n" +
            "}\n" +
            "table ip nat { # handle 12\n" +
            "\tchain PREROUTING { # handle 1\n" +
            "\t\ttype nat hook prerouting priority dstnat; policy accept;\n" +
            "\t\tcounter packets 0 bytes 0 jump BYPASSNAT_PREROUTING # handle 2\n" +
            "\t}\n" +
            "\tchain BYPASSNAT_PREROUTING { # handle 3\n" +
            "\t\tip daddr 192.0.2.2 tcp dport 8080 counter packets 0 bytes 0 dnat to 192.0.2.20:80 # handle 4\n" +
            "\t}\n" +
            "}\n" +
            "table inet sing { # handle 11\n" +
            "\tchain unused { # handle 1\n" +
            "\t\tmeta l4proto tcp tproxy ip to :7893 # handle 2\n" +
            "\t}\n" +
            "}\n";

        private const string Web = "ct direction reply ct status dnat ip saddr 192.0.2.20 tcp sport 80 accept comment \"bypassnat;name=web;ext=8080;role=reply\"";

        private static readonly BypassForward[] Set =
        {
            Forwards.Make("web", "tcp", "8080", internalPort: "80"),
            Forwards.Make("voip", "tcpudp", "9001-9003", internalAddress: "192.0.2.21"),
            Forwards.Make("off", "tcp", "7000", enabled: "false"),
        };

        private readonly string _dir = Path.Combine(Path.GetTempPath(), "bypassnat-nftproxy-" + Guid.NewGuid().ToString("N"));

        public static IEnumerable<object[]> Shells() => SectionedScriptTests.Shells();

        // The shell's PATH with stand-ins; under BusyBox ash, awk is BusyBox's as on OpenWrt.
        private string Bin(string[] shell, string ruleset)
        {
            string bin = Path.Combine(_dir, "bin");
            Directory.CreateDirectory(bin);
            File.WriteAllText(Path.Combine(_dir, "ruleset"), ruleset);
            File.WriteAllText(Path.Combine(bin, "nft"),
                // "list chains" prints the rules too: the survey reads only its table and type lines.
                $"#!/bin/sh\ncase \"$*\" in\n  'list chains') cat '{_dir}/ruleset' ;;\n" +
                $"  '-a list table '*) echo \"$4 $5\" >> '{_dir}/listed'; awk -v f=\"$4\" -v t=\"$5\" '$1 == \"table\" {{ p = ($2 == f && $3 == t) }} p' '{_dir}/ruleset' ;;\n" +
                $"  '-f -') cat >> '{_dir}/batch' ;;\nesac\n");
            using (var chmod = System.Diagnostics.Process.Start("chmod", new[] { "+x", Path.Combine(bin, "nft") })) chmod.WaitForExit();
            if (shell[0].EndsWith("busybox", StringComparison.Ordinal))
                using (var link = System.Diagnostics.Process.Start("ln", new[] { "-sf", shell[0], Path.Combine(bin, "awk") })) link.WaitForExit();
            return bin;
        }

        private ProxyCapture Survey(string[] shell, string ruleset)
        {
            string bin = Bin(shell, ruleset);
            CommandResult result = SectionedScriptTests.Run(shell, $"PATH='{bin}':\"$PATH\"\necho '@nftchains'\n" + NftablesExemption.ListScript(string.Empty));
            Assert.Equal(0, result.ExitCode);
            return ProxyCapture.Parse(result.Output);
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void FindsThePreroutingBaseChainsThatLeadToTproxyAndBypassNatsRulesInThem(string[] shell)
        {
            ProxyCapture capture = Survey(shell, Ruleset);
            // Only the tables a tproxy can be in are listed: not BypassNat's, not one of nat chains only
            // (iptables-nft's nat table, thousands of rules with the iptables backend).
            Assert.Equal(new[] { "inet fw4", "inet sing" }, File.ReadAllLines(Path.Combine(_dir, "listed")));
            // mangle_prerouting jumps to the tproxy chain; fw4's prerouting (helpers) and dstnat (nat) do not.
            Assert.Equal(new[] { "inet fw4 mangle_prerouting" }, capture.NftExemptChains);
            Assert.Equal(new[] { "inet fw4", "inet sing" }, capture.NftablesTproxyTables.OrderBy(t => t));
            NftOwnRule own = Assert.Single(capture.NftOwnRules);
            Assert.Equal("inet fw4 mangle_prerouting", own.Chain);
            Assert.Equal("40", own.Handle);
            Assert.False(own.Displaced);
            Assert.Equal(Web, own.Rule);
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void TheExemptionIsInPlaceOnlyWithExactlyTheWantedRulesFirst(string[] shell)
        {
            ProxyCapture capture = Survey(shell, Ruleset);
            ProxyExemption web = ProxyExemption.For(capture, Set.Take(1).ToList());
            Assert.Equal(new[] { "inet fw4 mangle_prerouting " + Web }, web.NftWanted);
            Assert.Empty(web.Wanted);
            Assert.True(web.InPlace);
            Assert.False(web.NeedsWrite);
            Assert.Equal("inet fw4 mangle_prerouting " + Web + "\n", web.SavedNft);
            Assert.Equal("nftables tproxy (inet fw4): replies exempted (first in mangle_prerouting); nftables tproxy (inet sing): not exempted, the proxy's configuration must (see the warning)", web.Summary);
            // Advice only for the tproxy no prerouting chain leads to.
            Assert.Contains("'inet sing'", Assert.Single(web.Advice("192.0.2.2")));

            ProxyExemption all = ProxyExemption.For(capture, Set);
            Assert.Equal(new[]
            {
                "inet fw4 mangle_prerouting " + Web,
                "inet fw4 mangle_prerouting ct direction reply ct status dnat ip saddr 192.0.2.21 tcp sport 9001-9003 accept comment \"bypassnat;name=voip;ext=9001-9003;role=reply\"",
                "inet fw4 mangle_prerouting ct direction reply ct status dnat ip saddr 192.0.2.21 udp sport 9001-9003 accept comment \"bypassnat;name=voip;ext=9001-9003;role=reply\"",
            }, all.NftWanted);
            Assert.True(all.NeedsWrite);
            Assert.Equal("the chain 'inet fw4 mangle_prerouting' holds 1 of BypassNat's rule(s), expected 3", NftablesExemption.Differs(all.NftWanted, capture));

            // The proxy's restart put its own rule first: displaced, so written again.
            string displaced = Ruleset.Replace("\t\tct direction reply", "\t\tmeta mark 0x00000005 return # handle 44\n\t\tct direction reply");
            ProxyExemption moved = ProxyExemption.For(Survey(shell, displaced), Set.Take(1).ToList());
            Assert.True(moved.NeedsWrite);
            Assert.Contains("not the first", NftablesExemption.Differs(moved.NftWanted, moved.Capture));
            Assert.Contains("proxy    exempt the forwards' replies from the proxy's nftables tproxy (1 rule(s) first in inet fw4 mangle_prerouting)", moved.Describe());
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void WithTheProxysTproxyGoneBypassNatsLeftOverRulesAreDeleted(string[] shell)
        {
            ProxyCapture capture = Survey(shell, Ruleset.Replace("tproxy ip to 127.0.0.1:7895 meta mark set 0x00000162 accept", "meta mark set 0x00000162 accept"));
            ProxyExemption exemption = ProxyExemption.For(capture, Set);
            Assert.Empty(exemption.NftWanted);
            Assert.True(exemption.Relevant);
            Assert.True(exemption.NeedsWrite);
            Assert.Equal(string.Empty, exemption.SavedNft);
            Assert.Contains("remove BypassNat's rules from the proxy's nftables chains (inet fw4 mangle_prerouting)", exemption.Describe());

            CommandResult result = SectionedScriptTests.Run(shell, $"PATH='{Path.Combine(_dir, "bin")}':\"$PATH\"\n" + exemption.Script(string.Empty));
            Assert.Equal(0, result.ExitCode);
            Assert.Equal("delete rule inet fw4 mangle_prerouting handle 40\n", File.ReadAllText(Path.Combine(_dir, "batch")));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void TheApplyDeletesBypassNatsRulesByHandleAndInsertsTheWantedOnesFirstInOrder(string[] shell)
        {
            ProxyExemption exemption = ProxyExemption.For(Survey(shell, Ruleset), Set);
            CommandResult result = SectionedScriptTests.Run(shell, $"PATH='{Path.Combine(_dir, "bin")}':\"$PATH\"\n" + exemption.Script(string.Empty));
            Assert.Equal(0, result.ExitCode);
            // Inserted last-first, so they end up in the wanted order at the top of the chain.
            Assert.Equal("delete rule inet fw4 mangle_prerouting handle 40\n" +
                         string.Concat(exemption.NftWanted.Reverse().Select(w => "insert rule " + w + "\n")), File.ReadAllText(Path.Combine(_dir, "batch")));
        }

        [Theory]
        [MemberData(nameof(Shells))]
        public void RestoreShPutsTheRulesBackOnlyWhenMissingOrDisplaced(string[] shell)
        {
            string bin = Bin(shell, Ruleset);
            File.WriteAllText(Path.Combine(_dir, "ruleset.nft"), "table ip bypassnat {}\n");
            string restore = new PersistenceInstaller(null).RestoreScriptText()
                .Replace("dir=/etc/bypassnat", "dir='" + _dir + "'")
                .Replace("lockdir=/run/bypassnat", "lockdir='" + _dir + "'");
            string script = $"PATH='{bin}':\"$PATH\"\nset -- --if-missing\n" + restore.Substring(restore.IndexOf('\n') + 1);
            string batch = Path.Combine(_dir, "batch");

            // Nothing saved: nothing done.
            Assert.Equal(0, SectionedScriptTests.Run(shell, script).ExitCode);
            Assert.False(File.Exists(batch));

            // In place: nothing done.
            File.WriteAllText(Path.Combine(_dir, "proxy-exemption.nft"), "inet fw4 mangle_prerouting " + Web + "\n");
            Assert.Equal(0, SectionedScriptTests.Run(shell, script).ExitCode);
            Assert.False(File.Exists(batch));

            // The proxy restarted: its table came back without BypassNat's rule.
            File.WriteAllText(Path.Combine(_dir, "ruleset"), Ruleset.Replace("\t\t" + Web + " # handle 40\n", string.Empty));
            Assert.Equal(0, SectionedScriptTests.Run(shell, script).ExitCode);
            Assert.Equal("insert rule inet fw4 mangle_prerouting " + Web + "\n", File.ReadAllText(batch));
            File.Delete(batch);

            // Displaced by the proxy's own rule: deleted and inserted first again.
            File.WriteAllText(Path.Combine(_dir, "ruleset"), Ruleset.Replace("\t\tct direction reply", "\t\tmeta mark 0x00000005 return # handle 44\n\t\tct direction reply"));
            Assert.Equal(0, SectionedScriptTests.Run(shell, script).ExitCode);
            Assert.Equal("delete rule inet fw4 mangle_prerouting handle 40\ninsert rule inet fw4 mangle_prerouting " + Web + "\n", File.ReadAllText(batch));
            File.Delete(batch);

            // The proxy is stopped (its table gone): nothing to exempt, nothing done.
            File.WriteAllText(Path.Combine(_dir, "ruleset"), "table ip bypassnat { # handle 9\n}\n");
            Assert.Equal(0, SectionedScriptTests.Run(shell, script).ExitCode);
            Assert.False(File.Exists(batch));
        }

        public void Dispose()
        {
            if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
        }
    }
}
