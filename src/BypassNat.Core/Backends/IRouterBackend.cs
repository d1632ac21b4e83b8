using System.Collections.Generic;

namespace BypassNat.Backends
{
    /// <summary>
    /// One way of holding a hop's forwards on a router (iptables chains, an nftables table, UCI
    /// redirects, ...). A backend owns its transport: it is made for one router by its registration
    /// (Registry/BackendRegistry) and talks to it however it must; the orchestration only reads,
    /// writes, removes and asks <see cref="Capabilities"/>. How it writes is one of two kinds, never
    /// both: an <see cref="IScriptedBackend"/> hands its load to the apply's one SSH command, an
    /// <see cref="IDirectBackend"/> writes by itself.
    /// </summary>
    public interface IRouterBackend
    {
        BackendKind Kind { get; }

        /// <summary>What this backend can do beyond read, write and remove.</summary>
        BackendCapabilities Capabilities { get; }

        /// <summary>The connection to the router this backend was made for.</summary>
        IRouterTransport Transport { get; }

        RouterState Read();

        /// <summary>Removes every trace of BypassNat's rules in <paramref name="current"/> from the router.</summary>
        void Remove(RouterState current);

        /// <summary>A forward (already in the hop's shape) as this backend can hold it, so a desired set compares equal to a read-back.</summary>
        BypassForward Shape(BypassForward forward);

        /// <summary>Why this backend cannot do <paramref name="capability"/> (a sentence for the error), or what it does instead.</summary>
        string Explain(BackendCapabilities capability);
    }

    /// <summary>
    /// A backend that writes by itself, through its own calls on its transport (UCI's batch, commit and
    /// reload; iKuai's API calls), rather than as a fragment of the apply's sectioned script.
    /// </summary>
    public interface IDirectBackend : IRouterBackend
    {
        /// <summary>
        /// Makes the router hold <see cref="BackendWrite.Desired"/> and nothing else of BypassNat's.
        /// The caller reads back and compares afterwards.
        /// </summary>
        BackendWriteOutcome Write(BackendWrite write);
    }

    /// <summary>One write: the set to hold, what the router held before, and the forwards whose flows the change touches.</summary>
    public sealed class BackendWrite
    {
        public BackendWrite(IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current, IEnumerable<BypassForward> touched)
        {
            Desired = desired;
            Context = context;
            Current = current;
            Touched = touched;
        }

        public IReadOnlyList<BypassForward> Desired { get; }
        public RenderContext Context { get; }
        public RouterState Current { get; }
        public IEnumerable<BypassForward> Touched { get; }
    }

    /// <summary>What a write did besides holding the set.</summary>
    public sealed class BackendWriteOutcome
    {
        public BackendWriteOutcome(int conntrackEntriesDeleted, IReadOnlyList<string> warnings)
        {
            ConntrackEntriesDeleted = conntrackEntriesDeleted;
            Warnings = warnings ?? new string[0];
        }

        public int ConntrackEntriesDeleted { get; }
        public IReadOnlyList<string> Warnings { get; }
    }
}
