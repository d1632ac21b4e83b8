using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Net;
using BypassNat.Diagnosis;

namespace BypassNat.Commands
{
    /// <summary>
    /// Says why a forward does not work, from the router's connection tracking: connections that the
    /// router sent on to the device but that never got a reply mean the device answers through
    /// another gateway.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Debug, "BypassForward", DefaultParameterSetName = ComputerNameSet)]
    [OutputType(typeof(ForwardDiagnosis))]
    public sealed class DebugBypassForwardCommand : RouterCommand
    {
        /// <summary>Only forwards whose name matches one of these wildcard patterns.</summary>
        [Parameter(Position = 0)]
        [SupportsWildcards]
        public string[] Name { get; set; }

        protected override void ProcessRouters()
        {
            ForEachRouter((router, session) =>
            {
                Apply.ForwardApplier applier = Applier(router, session);
                // No SSH session: the router is reached through a web API (iKuai), which does not show its connection table.
                if (session == null)
                    throw new BypassNatException("BypassNat.DiagnosisNotSupported", FailureKind.InvalidOperation,
                        $"Debug-BypassForward reads the router's connection table over SSH; {router.Name} is reached through the {applier.Choice.Backend.Kind} web API, which does not show it. Run it against the bypass router. Nothing was changed.", router.Name);
                List<BypassForward> forwards = SelectByName(router, applier.ReadState().Forwards, Name ?? new[] { "*" })
                    .Where(f => f.Enabled).ToList();
                if (forwards.Count == 0) return;
                IEnumerable<IPAddress> addresses = forwards.Select(f => f.BypassAddress)
                    .Concat(forwards.Where(f => f.PublicAddress != null).Select(f => f.PublicAddress));
                IReadOnlyList<ConntrackEntry> entries = ConntrackReader.Read(session, addresses);
                Verbose($"{entries.Count} TCP/UDP connection(s) to the forwards' addresses in the connection table of {router.Name}.");
                foreach (BypassForward forward in forwards)
                {
                    ForwardDiagnosis diagnosis = ForwardDiagnosis.Diagnose(router.Name, forward, entries);
                    if (diagnosis.Status == DiagnosisStatus.Unreplied || diagnosis.Status == DiagnosisStatus.NotForwarded)
                        Warn($"{router.Name}: forward '{forward.Name}': {diagnosis.Cause} {diagnosis.Fix}");
                    Emit(diagnosis);
                }
            });
        }
    }
}
