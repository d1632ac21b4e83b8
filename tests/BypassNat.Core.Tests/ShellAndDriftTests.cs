using System.Linq;
using BypassNat.Apply;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using Xunit;

namespace BypassNat.Tests
{
    public class ShellAndDriftTests
    {
        [Fact]
        public void RendersPlainCommandsThatCanRunTwice()
        {
            string expected =
                "#!/bin/sh\n" +
                "# BypassNat forwards as plain iptables commands; run as root on the bypass router.\n" +
                "# Re-running is safe: BypassNat's chains are emptied and refilled, the jumps added once.\n" +
                "set -e\n" +
                "iptables -t nat -N BYPASSNAT_PREROUTING 2>/dev/null || iptables -t nat -F BYPASSNAT_PREROUTING\n" +
                "iptables -t nat -N BYPASSNAT_POSTROUTING 2>/dev/null || iptables -t nat -F BYPASSNAT_POSTROUTING\n" +
                "iptables -t nat -A BYPASSNAT_PREROUTING -d 192.0.2.2/32 -p tcp -m tcp --dport 8080 -m comment --comment 'bypassnat;name=web;ext=8080;note=it%27s' -j DNAT --to-destination 192.0.2.20:80\n" +
                "iptables -t nat -A BYPASSNAT_POSTROUTING -d 192.0.2.20/32 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -m comment --comment 'bypassnat;name=web;ext=8080;role=keep;note=it%27s' -j ACCEPT\n" +
                "iptables -t nat -C PREROUTING -j BYPASSNAT_PREROUTING 2>/dev/null || iptables -t nat -I PREROUTING 1 -j BYPASSNAT_PREROUTING\n" +
                "iptables -t nat -C POSTROUTING -j BYPASSNAT_POSTROUTING 2>/dev/null || iptables -t nat -I POSTROUTING 1 -j BYPASSNAT_POSTROUTING\n";
            Assert.Equal(expected, IptablesShellRenderer.Render(new[] { Forwards.Make("web", "tcp", "8080", internalPort: "80", comment: "it's") }));
        }

        [Fact]
        public void DriftNamesEachDifferenceWithItsField()
        {
            var router = NftablesReader.Read(NftablesRenderer.Render(new[]
            {
                Forwards.Make("web", "tcp", "8080", internalPort: "80"),
                Forwards.Make("game", "udp", "9000"),
            }));
            var desired = new[]
            {
                Forwards.Make("web", "tcp", "8080", internalPort: "81"),
                Forwards.Make("admin", "tcp", "8443"),
            };
            var drift = ForwardDrift.Compare("r1", desired, router);
            Assert.Equal(DriftKind.Missing, drift.Single(d => d.Name == "admin").Kind);
            Assert.Equal(DriftKind.Unexpected, drift.Single(d => d.Name == "game").Kind);
            ForwardDrift web = drift.Single(d => d.Name == "web");
            Assert.Equal(DriftKind.Different, web.Kind);
            Assert.Equal(new[] { "InternalPort" }, web.Fields);
            Assert.Equal("InternalPort: 80 -> 81", web.Detail);
            Assert.All(drift, d => Assert.Equal("r1", d.ComputerName));
        }

        [Fact]
        public void ForwardsThatAreNotHookedInAreDrift()
        {
            var set = new[] { Forwards.Make("web", "tcp", "8080") };
            string unhooked = NftablesRenderer.Render(set).Replace("dnat ip to", "accept #");
            var drift = ForwardDrift.Compare("r1", set, NftablesReader.Read(unhooked));
            Assert.Equal(DriftKind.Unhooked, Assert.Single(drift).Kind);
        }
    }
}
