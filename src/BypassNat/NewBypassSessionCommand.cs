using System.Management.Automation;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>
    /// Opens an SSH session to each router and keeps it, so the cmdlets' -Session reuses one login
    /// for reading, testing and applying.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "BypassSession", DefaultParameterSetName = ComputerNameSet)]
    [OutputType(typeof(BypassSession))]
    public sealed class NewBypassSessionCommand : ConnectionCommand
    {
        // Cancelled by Ctrl-C, so a connection under way need not run out its -ConnectTimeout.
        private readonly System.Threading.CancellationTokenSource _stopping = new System.Threading.CancellationTokenSource();

        protected override void ProcessRecord() => CaptureRouters();

        protected override void AbandonRouters() => _stopping.Cancel();

        protected override void EndProcessing()
        {
            ForEachTarget(Routers, router =>
            {
                Verbose($"Connecting to {router.Settings.Endpoint} over SSH.");
                BypassSession session = BypassSession.Open(router.Settings, _stopping.Token);
                SessionTable.Add(session);
                if (session.HostKeyAddedTo != null) Warn(RouterCommand.HostKeyAddedWarning(router.Name, session.HostKeyFingerprint, session.HostKeyAddedTo));
                Verbose($"Session {session.Id} to {router.Name} opened as {session.UserName} with {session.Login}; host key {session.HostKeyFingerprint} accepted.");
                Emit(session);
            });
        }
    }
}
