using System.Collections.Generic;
using System.Net;
using BypassNat.Apply;
using Xunit;

namespace BypassNat.Tests
{
    public class ForwardAssignmentTests
    {
        private static readonly BypassForward Web = Forwards.Make("web", "Tcp", "8080", bypassAddress: "192.0.2.2");
        private static readonly BypassForward Web2 = Forwards.Make("web2", "Tcp", "8081", internalPort: "81", bypassAddress: "192.0.2.3");

        private static IReadOnlyList<IPAddress> Has(params string[] addresses) => System.Array.ConvertAll(addresses, IPAddress.Parse);

        [Fact]
        public void Each_forward_goes_to_the_router_that_has_its_bypass_address()
        {
            var routers = new Dictionary<string, IReadOnlyList<IPAddress>> { ["a"] = Has("192.0.2.2", "10.0.0.1"), ["b"] = Has("192.0.2.3") };
            ForwardAssignment assignment = ForwardAssignment.Assign(new[] { Web, Web2 }, routers, 0);
            Assert.Empty(assignment.Problems);
            Assert.Equal(new[] { Web }, assignment.ByRouter["a"]);
            Assert.Equal(new[] { Web2 }, assignment.ByRouter["b"]);
        }

        [Fact]
        public void A_forward_no_router_has_is_a_problem_naming_it_and_its_row()
        {
            var routers = new Dictionary<string, IReadOnlyList<IPAddress>> { ["a"] = Has("192.0.2.2") };
            ForwardAssignment assignment = ForwardAssignment.Assign(new[] { Web, Web2 }, routers, 0);
            string problem = Assert.Single(assignment.Problems);
            Assert.StartsWith("Forward 'web2' (row 2): BypassAddress 192.0.2.3 is not an address of the router a has 192.0.2.2.", problem);
        }

        [Fact]
        public void With_an_unreachable_router_a_forward_for_nobody_else_is_taken_to_be_its()
        {
            var routers = new Dictionary<string, IReadOnlyList<IPAddress>> { ["a"] = Has("192.0.2.2") };
            ForwardAssignment assignment = ForwardAssignment.Assign(new[] { Web, Web2 }, routers, unreachable: 1);
            Assert.Empty(assignment.Problems);
            Assert.Equal(new[] { Web }, assignment.ByRouter["a"]);
        }

        [Fact]
        public void A_router_that_gets_no_forward_is_a_problem_because_its_set_would_be_empty()
        {
            var routers = new Dictionary<string, IReadOnlyList<IPAddress>> { ["a"] = Has("192.0.2.2"), ["c"] = Has("192.0.2.4") };
            ForwardAssignment assignment = ForwardAssignment.Assign(new[] { Web }, routers, 0);
            Assert.StartsWith("None of the forwards is for c (it has 192.0.2.4)", Assert.Single(assignment.Problems));
        }

        [Fact]
        public void An_address_two_routers_have_is_a_problem()
        {
            var routers = new Dictionary<string, IReadOnlyList<IPAddress>> { ["a"] = Has("192.0.2.2"), ["a-again"] = Has("192.0.2.2") };
            ForwardAssignment assignment = ForwardAssignment.Assign(new[] { Web }, routers, 0);
            Assert.Contains(assignment.Problems, p => p.Contains("more than one router given (a, a-again)"));
        }
    }
}
