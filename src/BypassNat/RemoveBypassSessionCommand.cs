using System.Linq;
using System.Management.Automation;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>Closes sessions and forgets them; what they did on the routers stays.</summary>
    [Cmdlet(VerbsCommon.Remove, "BypassSession", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = "Session")]
    public sealed class RemoveBypassSessionCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Session", ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public BypassSession[] Session { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = "Id")]
        public int[] Id { get; set; }

        protected override void ProcessRecord()
        {
            foreach (int id in Id ?? new int[0])
            {
                BypassSession session = SessionTable.All().FirstOrDefault(s => s.Id == id);
                if (session == null)
                    WriteError(new ErrorRecord(new ItemNotFoundException($"There is no open BypassNat session with Id {id}."),
                        "BypassNat.SessionNotFound", ErrorCategory.ObjectNotFound, id));
                else Close(session);
            }

            foreach (BypassSession session in Session ?? new BypassSession[0]) Close(session);
        }

        private void Close(BypassSession session)
        {
            if (ShouldProcess($"session {session.Id} to {session.ComputerName}", "Close")) SessionTable.Close(session);
        }
    }
}
