using System.Collections.Generic;
using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>
    /// A backend whose transport is the router's shell over SSH. It hands out its read and its write
    /// as script fragments with their parsers, so that an apply can run them beside the probe, the
    /// saved set, the watchdog and the conntrack clean-up in one SSH command each
    /// (<see cref="SectionedScript"/>) instead of one command per step.
    /// </summary>
    public interface IScriptedBackend : IRouterBackend
    {
        /// <summary>The SSH connection this backend runs its scripts on.</summary>
        RouterSession Session { get; }

        /// <summary>Prints the backend's rules; exits non-zero only when the router refuses the listing.</summary>
        string ReadScript(string privileged);

        /// <summary>The state from what <see cref="ReadScript"/> printed.</summary>
        RouterState ParseRead(string output);

        /// <summary>Loads <paramref name="desired"/> in one kernel transaction; exits 3 when the kernel refuses it.</summary>
        string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current);

        /// <summary>Removes every trace of the rules in <paramref name="current"/> in one transaction (exit 3 when refused); null when there are none.</summary>
        string RemoveScript(string privileged, RouterState current);

        /// <summary>
        /// Puts back exactly <paramref name="previous"/> (none: every trace removed), for the
        /// -ConfirmTimeout watchdog; only tools a sudo login may already run. Exits non-zero when refused.
        /// </summary>
        string RollbackScript(string privileged, RouterState previous, RenderContext context);

        /// <summary>The flows of the touched forwards as this hop's router sees them, for the conntrack clean-up.</summary>
        IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context);

        /// <summary>The whole set as -Persist saves it (<see cref="SavedFile"/>): one nft file, or the chains with their jumps but without COMMIT.</summary>
        string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context);

        /// <summary>The saved set's file name in the hop's directory ("ruleset.nft").</summary>
        string SavedFile { get; }

        /// <summary>Whether OpenWrt's firewall includes the saved file itself (an nft file), rather than running restore.sh.</summary>
        bool FirewallIncludesSavedFile { get; }

        /// <summary>The command whose absence means this backend is simply not on the router (a survey then reads it as empty).</summary>
        string ListingTool { get; }

        /// <summary>The probe's name for this backend's tool ("nft" in nft=..., nft-owned=yes).</summary>
        string ProbeFact { get; }

        /// <summary>Whether <paramref name="state"/> shows BypassNat's rules here, as the probe's own test would (a table, a prerouting chain).</summary>
        bool Owns(RouterState state);

        /// <summary>The tool named in a refused load's error, e.g. "nft -f".</summary>
        string LoadTool { get; }

        /// <summary>The tools a login needs, for the error that says what sudo must allow.</summary>
        string Tools { get; }
    }
}
