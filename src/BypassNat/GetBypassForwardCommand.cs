using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Reflection;

namespace BypassNat.Commands
{
    /// <summary>Reads the forwards BypassNat manages back from a router, as the objects New-BypassForward makes.</summary>
    [Cmdlet(VerbsCommon.Get, "BypassForward", DefaultParameterSetName = ComputerNameSet)]
    [OutputType(typeof(BypassForward))]
    public sealed class GetBypassForwardCommand : RouterCommand
    {
        /// <summary>Only forwards whose name matches one of these wildcard patterns.</summary>
        [Parameter(Position = 0)]
        [ArgumentCompleter(typeof(ForwardNameCompleter))]
        [SupportsWildcards]
        public string[] Name { get; set; }

        protected override void ProcessRouters()
        {
            ForEachRouter((router, session) =>
            {
                var applier = Applier(router, session);
                // The IPv6 part lives in the ip6tables rules, which the nat rules do not show.
                IReadOnlyDictionary<string, (Ipv6Host Host, Ipv6SourceSet Sources)> ipv6 = applier.Ipv6State?.Forwards();
                List<BypassForward> forwards = SelectByName(router, applier.ReadState().Forwards, Name ?? new[] { "*" })
                    .Select(f => ipv6 != null && ipv6.TryGetValue(f.Name, out var six) ? f.WithIpv6(six.Host, six.Sources) : f).ToList();
                // nftables keeps no order (a map lists in hash order), so both backends answer in
                // one that reads well and stays put: by bypass address, then port.
                foreach (BypassForward forward in forwards.OrderBy(f => f.BypassAddress.GetAddressBytes().Aggregate(0L, (n, b) => n * 256 + b))
                             .ThenBy(f => f.BypassPort.Start).ThenBy(f => f.Name, StringComparer.OrdinalIgnoreCase))
                {
                    // Which router it came from, so that several routers' forwards can be told apart
                    // (and piped on to Remove-BypassForward, which binds ComputerName by property name).
                    PSObject item = PSObject.AsPSObject(forward);
                    item.Properties.Add(Hidden(new PSNoteProperty("ComputerName", router.Name)));
                    Emit(item);
                }
            });
        }

        private static readonly PropertyInfo IsHidden = typeof(PSMemberInfo).GetProperty("IsHidden", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);

        /// <summary>
        /// Hidden like a class's <c>hidden</c> member: it binds by property name and reads as
        /// $forward.ComputerName, but Export-Csv writes only the CSV columns, so the file applies again
        /// as it is. (PowerShell sets IsHidden only internally; where it cannot be set the property
        /// simply stays visible.)
        /// </summary>
        private static PSNoteProperty Hidden(PSNoteProperty property)
        {
            try
            {
                if (IsHidden?.SetMethod != null) IsHidden.SetValue(property, true);
            }
            catch (Exception e) when (e is TargetInvocationException || e is MethodAccessException || e is ArgumentException)
            {
            }

            return property;
        }
    }
}
