using System.Management.Automation;

namespace BypassNat.Commands
{
    /// <summary>Reads the forwards BypassNat manages back from a router, as the objects New-BypassForward makes.</summary>
    [Cmdlet(VerbsCommon.Get, "BypassForward", DefaultParameterSetName = ComputerNameSet)]
    [OutputType(typeof(BypassForward))]
    public sealed class GetBypassForwardCommand : RouterCommand
    {
        /// <summary>Only forwards whose name matches one of these wildcard patterns.</summary>
        [Parameter(Position = 0)]
        [SupportsWildcards]
        public string[] Name { get; set; }

        protected override void ProcessRouters()
        {
            ForEachRouter((router, session) =>
            {
                foreach (BypassForward forward in SelectByName(router, Applier(router, session).ReadState().Forwards, Name ?? new[] { "*" }))
                {
                    // Which router it came from, so that several routers' forwards can be told apart
                    // (and piped on to Remove-BypassForward, which binds ComputerName by property name).
                    PSObject item = PSObject.AsPSObject(forward);
                    item.Properties.Add(new PSNoteProperty("ComputerName", router.Name));
                    Emit(item);
                }
            });
        }
    }
}
