using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat.Apply
{
    /// <summary>
    /// Sends each forward to the bypass router that holds its BypassAddress: the main router forwards
    /// the port to that address, so the rules only work there. A forward no router holds, or that
    /// several hold, is a problem, and so is a router that gets none (its set would be empty, which
    /// would remove all its forwards); any problem means nothing is applied anywhere.
    /// </summary>
    public sealed class ForwardAssignment
    {
        private ForwardAssignment(Dictionary<string, List<BypassForward>> byRouter, List<string> problems)
        {
            ByRouter = byRouter;
            Problems = problems;
        }

        /// <summary>Router name -> its forwards, in input order.</summary>
        public IReadOnlyDictionary<string, List<BypassForward>> ByRouter { get; }

        public IReadOnlyList<string> Problems { get; }

        /// <param name="addresses">Router name -> its addresses, for the routers that could be read.</param>
        /// <param name="unreachable">Routers whose addresses could not be read: forwards that belong to
        /// none of the others are taken to be theirs (they already have their error), not a problem.</param>
        public static ForwardAssignment Assign(IReadOnlyList<BypassForward> forwards, IReadOnlyDictionary<string, IReadOnlyList<IPAddress>> addresses, int unreachable)
        {
            var byRouter = addresses.Keys.ToDictionary(k => k, k => new List<BypassForward>());
            var problems = new List<string>();
            for (int i = 0; i < forwards.Count; i++)
            {
                BypassForward forward = forwards[i];
                List<string> owners = addresses.Where(a => a.Value.Contains(forward.BypassAddress)).Select(a => a.Key).ToList();
                if (owners.Count == 1) byRouter[owners[0]].Add(forward);
                else if (owners.Count > 1)
                    problems.Add($"Forward '{forward.Name}' (row {i + 1}): BypassAddress {forward.BypassAddress} is an address of more than one router given ({string.Join(", ", owners)}); give each router once.");
                else if (unreachable == 0)
                    problems.Add($"Forward '{forward.Name}' (row {i + 1}): BypassAddress {forward.BypassAddress} is not an address of " +
                        (addresses.Count == 1 ? "the router " : "any router given: ") +
                        string.Join("; ", addresses.Select(a => $"{a.Key} has {Describe(a.Value)}")) +
                        ". The main router sends this forward's traffic to that address, so the rule would never match here. Fix BypassAddress, or add the router that has it.");
            }

            foreach (KeyValuePair<string, List<BypassForward>> router in byRouter.Where(r => r.Value.Count == 0 && forwards.Count > 0))
                problems.Add($"None of the forwards is for {router.Key} (it has {Describe(addresses[router.Key])}): applying would remove all its forwards. " +
                    "Leave it out, or use Remove-BypassForward -All there.");
            return new ForwardAssignment(byRouter, problems);
        }

        private static string Describe(IReadOnlyList<IPAddress> addresses) =>
            addresses.Count == 0 ? "no IPv4 address" : string.Join(", ", addresses);
    }
}
