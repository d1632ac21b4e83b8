using System.Collections.Generic;
using System.Linq;
using BypassNat.Plan;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>The GUI plan (Get-BypassForwardPlan): what to type on which router, in which order, as a person reads it.</summary>
    public class ForwardPlanTests
    {
        private static readonly BypassForward Web = Forwards.Make("web", "Tcp", "8080", internalPort: "80", bypassPort: "18080", comment: "blog");
        private static readonly BypassForward Game = Forwards.Make("game", "Udp", "9000", internalAddress: "192.0.2.21");
        private static readonly BypassForward Off = Forwards.Make("off", "Tcp", "7000", enabled: "false");

        [Fact]
        public void Main_router_entries_come_first_then_the_bypass_routers_each_in_input_order_without_disabled_forwards()
        {
            IReadOnlyList<ForwardPlanEntry> plan = ForwardPlanEntry.For(new[] { Web, Off, Game }, new[] { RouterRole.Bypass, RouterRole.Main }, "gw");
            Assert.Equal(new[] { "Main web", "Main game", "Bypass web", "Bypass game" }, plan.Select(e => e.Hop + " " + e.Name));
            Assert.Equal(new[] { "gw", "gw", "192.0.2.2", "192.0.2.2" }, plan.Select(e => e.Router));
        }

        [Fact]
        public void Each_hop_sends_its_port_on_to_the_next_one()
        {
            IReadOnlyList<ForwardPlanEntry> plan = ForwardPlanEntry.For(new[] { Web }, new[] { RouterRole.Main, RouterRole.Bypass }, "main router");
            ForwardPlanEntry main = plan[0], bypass = plan[1];
            Assert.Equal(("main router", "Main", "web", "TCP", "8080", "192.0.2.2", "18080", "blog", ""),
                (main.Router, main.Hop, main.Name, main.Protocol, main.ExternalPort, main.InternalAddress, main.InternalPort, main.Comment, main.AllowedSource));
            Assert.Equal(("192.0.2.2", "Bypass", "web", "TCP", "18080", "192.0.2.20", "80", "blog", ""),
                (bypass.Router, bypass.Hop, bypass.Name, bypass.Protocol, bypass.ExternalPort, bypass.InternalAddress, bypass.InternalPort, bypass.Comment, bypass.AllowedSource));
        }

        [Theory]
        [InlineData("Tcp", "TCP")]
        [InlineData("Udp", "UDP")]
        [InlineData("TcpUdp", "TCP+UDP")]
        public void Protocols_are_named_as_router_guis_name_them(string protocol, string shown)
        {
            ForwardPlanEntry entry = ForwardPlanEntry.For(new[] { Forwards.Make("p", protocol, "5000") }, new[] { RouterRole.Bypass }, "m").Single();
            Assert.Equal(shown, entry.Protocol);
        }

        [Fact]
        public void One_hop_asked_for_is_the_only_hop_planned()
        {
            Assert.Equal(new[] { "Bypass", "Bypass" }, ForwardPlanEntry.For(new[] { Web, Game }, new[] { RouterRole.Bypass }, "m").Select(e => e.Hop));
            Assert.Equal(new[] { "Main", "Main" }, ForwardPlanEntry.For(new[] { Web, Game }, new[] { RouterRole.Main }, "m").Select(e => e.Hop));
            Assert.Empty(ForwardPlanEntry.For(new[] { Off }, new[] { RouterRole.Main, RouterRole.Bypass }, "m"));
        }
    }
}
