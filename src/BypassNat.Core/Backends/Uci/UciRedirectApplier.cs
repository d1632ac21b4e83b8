using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Backends.Uci
{
    /// <summary>What an apply to an OpenWrt main router changed, by forward name.</summary>
    public sealed class UciApplyResult
    {
        public bool Changed { get; set; }
        public string[] Added { get; set; } = new string[0];
        public string[] Modified { get; set; } = new string[0];
        public string[] Removed { get; set; } = new string[0];
        public IReadOnlyList<string> Warnings { get; set; } = new string[0];
    }

    /// <summary>
    /// Makes an OpenWrt main router hold exactly the given forwards as BypassNat's UCI redirects, over
    /// one SSH session: read, compare, write one batch in one <see cref="UciTransaction"/>, read back.
    /// </summary>
    public sealed class UciRedirectApplier
    {
        private static readonly Regex ZoneName = new Regex("^[A-Za-z0-9_]{1,32}$", RegexOptions.CultureInvariant);
        private readonly RouterSession _session;

        public UciRedirectApplier(RouterSession session) => _session = session;

        public UciState Read()
        {
            CommandResult result = _session.Run(RouterScript.Preamble + "uci show firewall\n");
            if (!result.Succeeded) throw RouterScript.Failure(_session, "read its firewall config (uci show firewall)", result, "uci");
            return UciReader.Parse(result.Output);
        }

        public UciApplyResult Apply(IReadOnlyList<BypassForward> forwards, string wanZone = "wan", string lanZone = "lan")
        {
            foreach (string zone in new[] { wanZone, lanZone })
                if (zone == null || !ZoneName.IsMatch(zone))
                    throw new BypassNatException("BypassNat.InvalidZone", FailureKind.InvalidData,
                        $"'{zone}' is not a firewall zone name (letters, digits and _): nothing was changed on the main router.", zone);
            List<UciRedirect> desired = forwards.Select(f => UciRedirect.From(f, wanZone, lanZone)).ToList();
            UciState before = Read();
            string batch = UciBatch.Render(desired, before);
            var result = new UciApplyResult();
            if (batch.Length == 0) return result;

            // Under the same router-side lock as every other BypassNat writer.
            CommandResult run = RouterLock.Run(_session, UciTransaction.Script(_session.Privileged, batch, desired.Where(r => r.Enabled).Select(r => r.Name)),
                "writing the main router's UCI redirects");
            if (!run.Succeeded) throw Failure(run);
            result.Warnings = RouterScript.Warnings(run);

            UciState after = Read();
            if (!string.IsNullOrEmpty(UciBatch.Render(desired, after)))
                throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                    $"The redirects read back from the main router {_session.Settings.Endpoint} differ from what was committed; another program may be changing its firewall config. Run the apply again.",
                    _session.Settings.Endpoint);

            var held = before.Redirects.ToDictionary(r => r.Name);
            result.Changed = true;
            result.Added = desired.Where(d => !held.ContainsKey(d.Name)).Select(d => d.Name).ToArray();
            result.Modified = desired.Where(d => held.TryGetValue(d.Name, out UciRedirect h) && !h.Equals(d)).Select(d => d.Name).ToArray();
            result.Removed = before.Redirects.Where(h => desired.All(d => d.Name != h.Name)).Select(h => h.Name).ToArray();
            return result;
        }

        private BypassNatException Failure(CommandResult run)
        {
            string endpoint = _session.Settings.Endpoint;
            string detail = run.Error.Trim();
            switch (run.ExitCode)
            {
                case UciTransaction.PendingChanges:
                    return new BypassNatException("BypassNat.UncommittedChanges", FailureKind.InvalidOperation,
                        $"The main router {endpoint} was not changed: {detail}. It keeps the forwards it had.", endpoint);
                case UciTransaction.RolledBack:
                    return new BypassNatException("BypassNat.FirewallRefused", FailureKind.InvalidResult,
                        $"The main router {endpoint} did not take the new forwards: {detail}. It keeps the forwards it had.", endpoint);
                case UciTransaction.RollbackFailed:
                    return new BypassNatException("BypassNat.RollbackFailed", FailureKind.InvalidResult,
                        $"The main router {endpoint} did not take the new forwards, and is not back to its previous state: {detail}", endpoint);
                default:
                    return RouterScript.Failure(_session, "change its firewall config (uci batch, fw4 reload)", run, "uci, fw4 and nft");
            }
        }
    }
}
