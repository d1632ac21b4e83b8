using System.Linq;
using System.Net;
using BypassNat.Backends;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    /// <summary>Which checks a set gets is decided once, in the core, for every cmdlet.</summary>
    public class ForwardSetCheckTests
    {
        private static readonly RouterAddresses Bypass = RouterAddresses.Parse("2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n--routes--\ndefault via 192.0.2.1 dev eth0\n");
        private static readonly IPAddress[] Ssh = { IPAddress.Parse("192.0.2.2") };

        [Fact]
        public void EitherHopRefusesTwoForwardsOnOneExternalPortBeforeAnyRouterIsReached()
        {
            // The set is for both routers: a bypass-first apply must not take what the main router will refuse.
            var twoBypassRouters = new[] { Forwards.Make("a", "tcp", "8080"), Forwards.Make("b", "tcp", "8080", internalAddress: "192.0.2.21", bypassAddress: "192.0.2.3") };

            ForwardIssue issue = Assert.Single(ForwardSetCheck.WithoutRouter(twoBypassRouters));
            Assert.Equal("BypassNat.PortConflict", issue.ErrorId);
            Assert.Equal(2, issue.Row);
        }

        [Fact]
        public void OnTheRouterTheSshLockoutIsCheckedUnlessForcedAndThePlacementAlways()
        {
            var set = new[] { Forwards.Make("ssh", "tcp", "22"), Forwards.Make("elsewhere", "tcp", "8080", bypassAddress: "192.0.2.9") };
            var context = new RenderContext(Bypass.Addresses.Select(a => a.Prefix));

            var checkedSet = ForwardSetCheck.OnRouter(set, RouterRole.Bypass, Bypass, context, "192.0.2.2:22", Ssh, 22, force: false);
            Assert.Equal(new[] { "BypassNat.SshPortCapture", "BypassNat.AddressNotOnRouter" }, checkedSet.Select(i => i.ErrorId));
            Assert.Equal(new[] { 1, 2 }, checkedSet.Select(i => i.Row));

            var forced = ForwardSetCheck.OnRouter(set, RouterRole.Bypass, Bypass, context, "192.0.2.2:22", Ssh, 22, force: true);
            Assert.Equal("BypassNat.AddressNotOnRouter", Assert.Single(forced).ErrorId);

            // Another SSH port: nothing is captured.
            Assert.Equal("BypassNat.AddressNotOnRouter", Assert.Single(ForwardSetCheck.OnRouter(set, RouterRole.Bypass, Bypass, context, "192.0.2.2:2222", Ssh, 2222, force: false)).ErrorId);
        }
    }
}
