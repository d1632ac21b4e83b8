using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Backends;

namespace BypassNat.Validation
{
    /// <summary>
    /// The checks that need the router a set is applied to: a bypass router holds only forwards to one
    /// of its own addresses, a main router only forwards to a bypass router on one of its LANs, and a
    /// main router's forward must not capture the SSH port BypassNat came in on from the WAN side.
    /// </summary>
    public static class ForwardPlacement
    {
        /// <param name="endpoint">The router as the user named it, for the messages.</param>
        /// <param name="sshAddresses">The router addresses the SSH session uses; null to skip the lockout check.</param>
        public static IReadOnlyList<ForwardIssue> Check(IReadOnlyList<BypassForward> forwards, RouterRole role, RouterAddresses router,
            RenderContext context, string endpoint, IReadOnlyCollection<IPAddress> sshAddresses = null, int sshPort = 22)
        {
            var issues = new List<ForwardIssue>();
            for (int i = 0; i < forwards.Count; i++)
            {
                BypassForward forward = forwards[i];
                int row = i + 1;
                if (!forward.Enabled) continue;
                if (role == RouterRole.Bypass && !router.Owns(forward.BypassAddress))
                    issues.Add(new ForwardIssue("BypassNat.AddressNotOnRouter", row, "BypassAddress", forward.BypassAddress.ToString(),
                        $"forward '{forward.Name}' is for the bypass router at {forward.BypassAddress}, but {endpoint} has only {router.Describe()}; " +
                        $"apply it to the router that has {forward.BypassAddress}, or fix BypassAddress"));
                if (role != RouterRole.Main) continue;
                if (context.LanOf(forward.BypassAddress) == null)
                    issues.Add(new ForwardIssue("BypassNat.BypassAddressNotOnLan", row, "BypassAddress", forward.BypassAddress.ToString(),
                        $"forward '{forward.Name}' sends WAN port {forward.ExternalPort} to {forward.BypassAddress}, which is on none of the LANs of the main router {endpoint} " +
                        $"({(context.LanPrefixes.Count == 0 ? "none" : string.Join(", ", context.LanPrefixes))}; WAN {context.WanInterface}); fix BypassAddress"));
                if (router.Owns(forward.BypassAddress))
                    issues.Add(new ForwardIssue("BypassNat.BypassAddressNotOnLan", row, "BypassAddress", forward.BypassAddress.ToString(),
                        $"forward '{forward.Name}' would send WAN port {forward.ExternalPort} to the main router itself ({forward.BypassAddress}); BypassAddress is the bypass router's address"));
                bool viaWan = sshAddresses != null && sshAddresses.Any(a => context.WanAddresses.Contains(a) || a.Equals(forward.PublicAddress));
                if (viaWan && forward.Carries("tcp") && forward.ExternalPort.Contains(sshPort))
                    issues.Add(new ForwardIssue("BypassNat.SshPortCapture", row, "ExternalPort", forward.ExternalPort.ToString(),
                        $"it would send TCP port {sshPort} arriving on the WAN, the SSH port BypassNat is using to reach {endpoint}, to {forward.BypassAddress} " +
                        "and lock you out of the main router; pick another port, or use -Force if you really mean it"));
            }

            return issues;
        }
    }
}
