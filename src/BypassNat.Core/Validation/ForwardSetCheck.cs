using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Backends;

namespace BypassNat.Validation
{
    /// <summary>
    /// Which checks a set gets, decided here once for every cmdlet: what the set alone can tell
    /// (<see cref="WithoutRouter"/>: names, port conflicts, one forward an external port), and what the router's facts add (<see cref="OnRouter"/>: its addresses, the SSH
    /// port BypassNat came in on). The rules themselves are <see cref="ForwardSetValidator"/>'s and
    /// <see cref="ForwardPlacement"/>'s.
    /// </summary>
    public static class ForwardSetCheck
    {
        /// <summary>
        /// The set's own problems, before any router is reached. The same checks for either hop, so no
        /// hop is asked for: the set is for both routers (one forward an external port included), so a
        /// set the bypass router takes is never refused later by the main router.
        /// </summary>
        public static IReadOnlyList<ForwardIssue> WithoutRouter(IReadOnlyList<BypassForward> forwards) =>
            ForwardSetValidator.Check(forwards);

        /// <summary>
        /// The set against one router: a bypass router's forwards must not capture the SSH port on the
        /// addresses the session uses, and every forward must belong on this router. With
        /// <paramref name="force"/> the SSH lockout checks are skipped (the user means it), the placement is not.
        /// </summary>
        /// <param name="sshAddresses">The router addresses the SSH session uses.</param>
        public static IReadOnlyList<ForwardIssue> OnRouter(IReadOnlyList<BypassForward> forwards, RouterRole role, RouterAddresses router, RenderContext context,
            string endpoint, IReadOnlyCollection<IPAddress> sshAddresses, int sshPort, bool force)
        {
            var issues = new List<ForwardIssue>();
            if (!force && role == RouterRole.Bypass) issues.AddRange(ForwardSetValidator.Check(forwards, sshAddresses, sshPort));
            issues.AddRange(ForwardPlacement.Check(forwards, role, router, context, endpoint, force ? null : sshAddresses, sshPort));
            return issues;
        }
    }
}
