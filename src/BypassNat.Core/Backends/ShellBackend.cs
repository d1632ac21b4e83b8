using System.Collections.Generic;
using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>
    /// What the kernel backends (iptables, nftables; both hops) share: the SSH session they were made
    /// for, and read, write and remove as one script each built from their fragments.
    /// </summary>
    public abstract class ShellBackend : IScriptedBackend
    {
        protected ShellBackend(RouterSession session)
        {
            Session = session;
            Transport = new ShellTransport(session);
        }

        public RouterSession Session { get; }

        public IRouterTransport Transport { get; }

        public abstract BackendKind Kind { get; }

        public virtual BackendCapabilities Capabilities =>
            BackendCapabilities.SavedSet | BackendCapabilities.CommitConfirmed | BackendCapabilities.ConntrackCleanup;

        public abstract string Tools { get; }

        public abstract string LoadTool { get; }

        public abstract string SavedFile { get; }

        public abstract string ListingTool { get; }

        public abstract string ProbeFact { get; }

        public abstract bool Owns(RouterState state);

        public abstract bool FirewallIncludesSavedFile { get; }

        /// <summary>What a refused read tried, for its error ("read the nat table (iptables-save -t nat)").</summary>
        protected abstract string ReadStep { get; }

        /// <summary>The removal's name while it waits for the lock, and what a refused removal tried.</summary>
        protected abstract string RemoveStep { get; }

        protected abstract string RemoveWhat { get; }

        public abstract string ReadScript(string privileged);

        public abstract RouterState ParseRead(string output);

        public abstract string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current);

        public abstract string RemoveScript(string privileged, RouterState current);

        public abstract string RollbackScript(string privileged, RouterState previous, RenderContext context);

        public abstract IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context);

        public abstract string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context);

        public RouterState Read() => ParseRead(RouterScript.RunRead(Session, this, ReadStep));

        public void Remove(RouterState current)
        {
            if (!current.Present) return;
            CommandResult result = RouterLock.Run(Session, RouterScript.Wrap(RemoveScript(Session.Privileged, current)), RemoveStep);
            if (!result.Succeeded) throw RouterScript.Failure(Session, RemoveWhat, result, Tools);
        }

        // The kernel holds a forward exactly as it is written.
        public BypassForward Shape(BypassForward forward) => forward;

        public string Explain(BackendCapabilities capability) => null;
    }
}
