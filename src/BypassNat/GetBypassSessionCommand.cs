using System.Linq;
using System.Management.Automation;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>Lists the sessions New-BypassSession opened and Remove-BypassSession has not closed.</summary>
    [Cmdlet(VerbsCommon.Get, "BypassSession", DefaultParameterSetName = "ComputerName")]
    [OutputType(typeof(BypassSession))]
    public sealed class GetBypassSessionCommand : PSCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Id")]
        public int[] Id { get; set; }

        /// <summary>Only sessions to routers whose name matches one of these wildcard patterns.</summary>
        [Parameter(Position = 0, ParameterSetName = "ComputerName", ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [Alias("Router", "HostName")]
        public string[] ComputerName { get; set; }

        protected override void ProcessRecord()
        {
            if (Id != null)
            {
                foreach (int id in Id)
                {
                    BypassSession session = SessionTable.All().FirstOrDefault(s => s.Id == id);
                    if (session != null) WriteObject(session);
                    else WriteError(new ErrorRecord(new ItemNotFoundException($"There is no open BypassNat session with Id {id}."),
                        "BypassNat.SessionNotFound", ErrorCategory.ObjectNotFound, id));
                }

                return;
            }

            var patterns = (ComputerName ?? new[] { "*" }).Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
            foreach (BypassSession session in SessionTable.All().Where(s => patterns.Any(p => p.IsMatch(s.ComputerName))))
                WriteObject(session);
        }
    }
}
