using System.Collections.Generic;
using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>One way of holding forwards in a router's kernel: iptables chains or an nftables table.</summary>
    public interface IRouterBackend
    {
        BackendKind Kind { get; }

        RouterState Read(RouterSession session);

        /// <summary>
        /// Replaces BypassNat's rules with <paramref name="desired"/> in one kernel transaction, then
        /// forgets the conntrack entries of the touched ports. Returns how many entries went.
        /// </summary>
        int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings);

        /// <summary>Removes every trace of BypassNat's rules from the kernel, in one transaction.</summary>
        void Remove(RouterSession session, RouterState current);
    }
}
