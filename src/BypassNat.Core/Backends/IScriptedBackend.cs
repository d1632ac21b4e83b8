using System.Collections.Generic;

namespace BypassNat.Backends
{
    /// <summary>
    /// A backend that hands out its read and its write as script fragments with their parsers, so
    /// that an apply can run them beside the probe, the LAN listing and the conntrack clean-up in one
    /// SSH command each (<see cref="SectionedScript"/>) instead of one command per step.
    /// </summary>
    public interface IScriptedBackend : IRouterBackend
    {
        /// <summary>Prints the backend's rules; exits non-zero only when the router refuses the listing.</summary>
        string ReadScript(string privileged);

        /// <summary>The state from what <see cref="ReadScript"/> printed.</summary>
        RouterState ParseRead(string output);

        /// <summary>Loads <paramref name="desired"/> in one kernel transaction; exits 3 when the kernel refuses it.</summary>
        string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current);

        /// <summary>Removes every trace of the rules in <paramref name="current"/> in one transaction (exit 3 when refused); null when there are none.</summary>
        string RemoveScript(string privileged, RouterState current);

        /// <summary>The tool named in a refused load's error, e.g. "nft -f".</summary>
        string LoadTool { get; }

        /// <summary>The tools a login needs, for the error that says what sudo must allow.</summary>
        string Tools { get; }
    }
}
