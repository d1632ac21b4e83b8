using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using BypassNat.Plan;
using BypassNat.Validation;

namespace BypassNat.Commands
{
    /// <summary>
    /// Turns forwards into what to type into routers that have only a web GUI: one entry per forward
    /// and hop, without connecting anywhere.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "BypassForwardPlan")]
    [OutputType(typeof(ForwardPlanEntry))]
    public sealed class GetBypassForwardPlanCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [AllowEmptyCollection]
        public BypassForward[] Forward { get; set; }

        /// <summary>Only these hops: Main (the main router's forwards), Bypass (the bypass router's). Both by default.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public RouterRole[] Role { get; set; } = { RouterRole.Main, RouterRole.Bypass };

        /// <summary>What to call the main router in the Router column.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string MainRouterName { get; set; } = "main router";

        private readonly List<BypassForward> _forwards = new List<BypassForward>();

        protected override void ProcessRecord()
        {
            if (Forward != null) _forwards.AddRange(Forward);
        }

        protected override void EndProcessing()
        {
            IReadOnlyList<ForwardIssue> issues = ForwardSetCheck.WithoutRouter(_forwards);
            foreach (ForwardIssue issue in issues) WriteError(ErrorRecords.From(issue, _forwards[issue.Row - 1]));
            if (issues.Count > 0)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.InvalidForwardSet", ErrorCategory.InvalidData,
                    $"{issues.Count} problem(s) in the forwards piped in (see the errors above); no plan was made.", null));
            WriteObject(ForwardPlanEntry.For(_forwards, Role.Distinct().ToList(), MainRouterName), true);
        }
    }
}
