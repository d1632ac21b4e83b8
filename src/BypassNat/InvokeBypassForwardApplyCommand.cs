using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using BypassNat.Apply;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>
    /// Makes the bypass router hold exactly the forwards piped in: one atomic transaction, nothing
    /// written when nothing differs, and a read-back that fails loudly when the router disagrees.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "BypassForwardApply", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(ApplyResult))]
    public sealed class InvokeBypassForwardApplyCommand : RouterCommand
    {
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        public BypassForward[] Forward { get; set; }

        /// <summary>
        /// Also install the forwards on the router so they are restored at boot and re-applied after a
        /// flush (systemd units or an OpenWrt include). Later applies keep the saved set current.
        /// </summary>
        [Parameter]
        public SwitchParameter Persist { get; set; }

        /// <summary>
        /// The network's public address (IPv4, or a DNS name resolved now), for forwards that do not
        /// name one: LAN clients then reach the services at it too (hairpin).
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string PublicAddress { get; set; }

        /// <summary>Apply even a forward that would capture the SSH port of this session.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        private readonly List<BypassForward> _desired = new List<BypassForward>();

        // Duration in the result is the whole call: connecting, reading, writing, verifying.
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        protected override void ProcessRecord()
        {
            if (Forward != null) _desired.AddRange(Forward);
        }

        protected override void EndProcessing()
        {
            if (_desired.Count == 0)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.NoForwards", ErrorCategory.InvalidArgument,
                    $"No forwards reached Invoke-BypassForwardApply, so nothing was changed on {ComputerName}. " +
                    "An empty set would remove every forward; if that is what you want, remove them explicitly.", ComputerName));

            try
            {
                ResolvePublicAddress(PublicAddress, _desired);
                StopOnIssues(ForwardSetValidator.Check(_desired), _desired);

                using (RouterSession session = Connect())
                {
                    if (!Force) StopOnIssues(ForwardSetValidator.Check(_desired, session.Addresses, Port), _desired);
                    ForwardApplier applier = Applier(session);
                    ApplyPlan plan = applier.Plan(_desired);
                    string change = plan.Describe();
                    if (Persist) change += "\n  persist  save them on the router, restored at boot and after a flush";
                    WriteVerbose("Plan for " + ComputerName + ":\n" + change);
                    if ((plan.NeedsWrite || Persist) && !ShouldProcess($"{ComputerName} ({applier.Choice.Backend.Kind})\n{change}\n", "Apply the forwards"))
                        return;
                    ApplyResult result = applier.Apply(plan, Persist, WriteWarning);
                    RecentForwards.Remember(ComputerName, plan.Desired.Where(f => f.Enabled));
                    if (result.PreviousPublicAddress != null)
                        WriteWarning($"The public address changed from {result.PreviousPublicAddress} to {result.PublicAddress ?? "none"}; the hairpin rules moved with it.");
                    result.Duration = _clock.Elapsed;
                    WriteObject(result);
                }
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }
        }
    }
}
