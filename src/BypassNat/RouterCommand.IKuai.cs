using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Security;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Backends.IKuai;
using BypassNat.Ssh;
using BypassNat.Registry;

namespace BypassNat.Commands
{
    /// <summary>
    /// -Backend IKuai: the main router is an iKuai router driven through its web API, not over SSH.
    /// The cmdlets branch here before any SSH connection; the core's IKuai folder does the work.
    /// </summary>
    public abstract partial class RouterCommand
    {
        private void CaptureIKuaiRouters()
        {
            foreach (string name in ComputerName ?? new string[0]) AddRouter(new RouterTarget(name, Settings(name)));
        }

        /// <summary>
        /// Sessions to iKuai routers (New-BypassSession -Role Main -Backend IKuai): the command works on
        /// them through their API, as the main router, with the settings they were opened with. A
        /// command takes iKuai sessions or SSH sessions, not both: its parameters mean one of them.
        /// </summary>
        private bool CaptureIKuaiSessions()
        {
            bool ikuai = Session.Any(IsIKuai);
            if (!ikuai)
            {
                if (Backend == BackendKind.IKuai)
                    ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.SessionNotIKuai", ErrorCategory.InvalidArgument,
                        "-Backend IKuai talks to the router's web API, not over SSH: give it a session from New-BypassSession -Role Main -Backend IKuai, or -ComputerName with -Credential or -ApiToken, not an SSH session. Nothing was done.", "Session"));
                return false;
            }

            if (Session.Any(s => !IsIKuai(s)))
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.SessionMix", ErrorCategory.InvalidArgument,
                    "The sessions given mix iKuai's web API with SSH; a command works on one kind: run it once with each. Nothing was done.", "Session"));
            if (MyInvocation.BoundParameters.ContainsKey(nameof(Backend)) && Backend != BackendKind.IKuai)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.SessionConflict", ErrorCategory.InvalidArgument,
                    $"-Backend {Backend} cannot be used with a session to an iKuai router's web API, which holds its forwards as iKuai's port mappings. Leave -Backend out. Nothing was done.", "Backend"));
            if (MyInvocation.BoundParameters.ContainsKey(nameof(Role)) && Role != RouterRole.Main)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.IKuaiNotForBypass", ErrorCategory.InvalidArgument,
                    "-Backend IKuai is for the main router (-Role Main): iKuai holds the first half of the double forward. Nothing was changed.", "Role"));
            var given = IKuaiSessionSettings.Concat(SshOnly).Where(MyInvocation.BoundParameters.ContainsKey).Select(n => "-" + n).ToList();
            if (given.Count > 0)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.SessionConflict", ErrorCategory.InvalidArgument,
                    $"{string.Join(", ", given)} cannot change a session: it keeps the settings New-BypassSession opened it with. Leave them out, or open another session.", given[0]));
            Backend = BackendKind.IKuai;
            Role = RouterRole.Main;
            foreach (BypassSession session in Session)
            {
                if (session.State == BypassSessionState.Closed)
                    ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.SessionClosed", ErrorCategory.InvalidOperation,
                        $"Session {session.Id} to {session.ComputerName} was closed with Remove-BypassSession; open a new one with New-BypassSession. Nothing was done.", session));
                AddRouter(new RouterTarget(session));
            }

            return true;
        }

        private static bool IsIKuai(BypassSession session) => session.Backend == nameof(BackendKind.IKuai);

        private readonly List<KeyValuePair<RouterTarget, IKuaiBackend>> _ikuai = new List<KeyValuePair<RouterTarget, IKuaiBackend>>();

        /// <summary>
        /// The applier for an iKuai router: the backend from the registry with the web API as its
        /// transport (no survey, no SSH), in the main hop's shape; or, for a session, over the
        /// session's API (its login kept). The command's own API is closed when the command ends.
        /// </summary>
        private ForwardApplier IKuaiApplier(RouterTarget router)
        {
            IKuaiBackend backend;
            if (router.Session != null)
            {
                var api = (IIKuaiApi)router.Session.WebApi();
                api.Trace = IKuaiTrace;
                api.Cancel = StopToken;
                if (!router.Session.UsesHttps) Warn(PlainHttpWarning(router.Name, router.Session.Endpoint));
                backend = new IKuaiBackend(api, router.Name, router.Session.Endpoint, WanInterface, ownsApi: false) { Router = { Trace = IKuaiTrace } };
                Verbose($"Using session {router.Session.Id} to {router.Name} ({api.Describe}).");
            }
            else
            {
                IKuaiSettings settings = IKuaiSettingsFor(router, Role, WanInterface);
                settings.Trace = IKuaiTrace;
                settings.Cancel = StopToken;
                if (!settings.UseHttps) Warn(PlainHttpWarning(router.Name, settings.Endpoint));
                backend = (IKuaiBackend)BackendRegistry.Create(BackendKind.IKuai,
                    new BackendSite(RouterHop.For(Role), null, WanInterface, null, new BackendOptions { IKuai = settings }));
            }

            lock (_ikuai) _ikuai.Add(new KeyValuePair<RouterTarget, IKuaiBackend>(router, backend));
            var applier = new ForwardApplier(new BackendChoice(backend, null, $"IKuai (as requested; {backend.Api.Describe})"), RouterHop.For(Role),
                new RenderContext(new Ipv4Prefix[0], WanInterface));
            applier.Observed = state => RecentForwards.Remember(router.Name, state.Forwards);
            Verbose($"Backend on {router.Name}: {applier.Choice.Reason}.");
            return applier;
        }

        /// <summary>
        /// A request or call for -Verbose. Once Ctrl-C stops the command its streams are closed, and
        /// a line written then would throw in the middle of putting back what was there: it is dropped.
        /// </summary>
        private void IKuaiTrace(string line)
        {
            if (StopToken.IsCancellationRequested) return;
            try
            {
                Verbose(line);
            }
            catch (Exception e) when (e is PipelineStoppedException || e is OperationCanceledException)
            {
            }
        }

        /// <summary>
        /// Closes the iKuai APIs this command opened (a session's stays open, unhooked from this
        /// command's streams and Ctrl-C), saying how each certificate was accepted and how many writes went.
        /// </summary>
        private void CloseIKuai()
        {
            lock (_ikuai)
            {
                foreach (KeyValuePair<RouterTarget, IKuaiBackend> open in _ikuai)
                {
                    CertificateTrust trust = (open.Value.Api as IKuaiApi)?.Trust;
                    if (trust?.AcceptedBy != null) IKuaiTrace($"Certificate of {open.Key.Name}: SHA-256 {trust.Presented}, {trust.AcceptedBy}.");
                    IKuaiTrace($"{open.Key.Name}: {open.Value.Api.Requests} request(s) to the iKuai API{(open.Key.Session != null ? " (in its session so far)" : "")}, {open.Value.Api.WriteCalls} of them write calls.");
                    open.Value.Api.Trace = null;
                    open.Value.Api.Cancel = System.Threading.CancellationToken.None;
                    open.Value.Dispose();
                }

                _ikuai.Clear();
            }
        }
    }
}
