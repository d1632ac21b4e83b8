using System;
using System.Collections.Generic;
using System.Linq;
using BypassNat.Backends;
using Xunit;
using BypassNat.Registry;

namespace BypassNat.Tests
{
    /// <summary>ConvertTo-BypassRuleset's formats: each role renders each format as that format, never another one.</summary>
    public class RulesetFormatTests
    {
        public static IEnumerable<object[]> EveryFormatAndRole() =>
            from RulesetFormat format in Enum.GetValues(typeof(RulesetFormat))
            from RouterRole role in Enum.GetValues(typeof(RouterRole))
            select new object[] { format, role };

        [Theory]
        [MemberData(nameof(EveryFormatAndRole))]
        public void EachFormatIsRenderedAsItselfForEachRole(RulesetFormat format, RouterRole role)
        {
            var forwards = new[] { Forwards.Make("web", "tcp", "8080", internalPort: "80") };
            string text = RulesetRenderer.Render(forwards, format, new RenderContext(new Ipv4Prefix[0], role == RouterRole.Main ? "wan0" : null), role);

            switch (format)
            {
                case RulesetFormat.Nftables:
                    Assert.StartsWith(role == RouterRole.Main ? "table ip bypassnat_main\n" : "table ip bypassnat\n", text);
                    break;
                case RulesetFormat.IptablesRestore:
                    Assert.StartsWith("*nat\n", text);
                    Assert.Contains(role == RouterRole.Main ? "BYPASSNAT_MAIN_PREROUTING" : "BYPASSNAT_PREROUTING", text);
                    break;
                case RulesetFormat.Shell:
                    Assert.Contains("iptables -t nat ", text);
                    break;
                case RulesetFormat.Uci:
                    // The main router's half (a redirect to the bypass router) whichever role asked: no iptables at all.
                    Assert.Equal("set firewall.bypassnat_web=redirect\n", text.Split('\n')[0] + "\n");
                    Assert.Contains("set firewall.bypassnat_web.dest_ip='192.0.2.2'\n", text);
                    Assert.EndsWith("commit firewall\n", text);
                    Assert.DoesNotContain("iptables", text);
                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"RulesetFormat.{format} has no case here: say what it renders.");
            }
        }
    }
}
