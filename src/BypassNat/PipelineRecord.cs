using System.Management.Automation;

namespace BypassNat.Commands
{
    /// <summary>
    /// Reads a piped record's fields as PowerShell's binding by property name would: any property
    /// whose name is a field's (in any case), its value converted to text the way the binder converts
    /// it to a [string] (or [string[]] for AllowedSource) parameter; a missing property is no value.
    /// </summary>
    internal static class PipelineRecord
    {
        public static ForwardInput Read(PSObject record)
        {
            if (record == null) return new ForwardInput();
            PSMemberInfoCollection<PSPropertyInfo> properties = record.Properties;
            string allowed = null;
            object allowedValue = properties[nameof(ForwardInput.AllowedSource)]?.Value;
            if (allowedValue != null)
                allowed = allowedValue is string one ? one : string.Join(" ", LanguagePrimitives.ConvertTo<string[]>(allowedValue));
            return new ForwardInput
            {
                Name = Text(properties, nameof(ForwardInput.Name)),
                Protocol = Text(properties, nameof(ForwardInput.Protocol)),
                ExternalPort = Text(properties, nameof(ForwardInput.ExternalPort)),
                BypassAddress = Text(properties, nameof(ForwardInput.BypassAddress)),
                BypassPort = Text(properties, nameof(ForwardInput.BypassPort)),
                InternalAddress = Text(properties, nameof(ForwardInput.InternalAddress)),
                InternalPort = Text(properties, nameof(ForwardInput.InternalPort)),
                SourceNat = Text(properties, nameof(ForwardInput.SourceNat)),
                Comment = Text(properties, nameof(ForwardInput.Comment)),
                Enabled = Text(properties, nameof(ForwardInput.Enabled)),
                PublicAddress = Text(properties, nameof(ForwardInput.PublicAddress)),
                AllowedSource = allowed,
            };
        }

        // A CSV cell is a string already; LanguagePrimitives' conversion, for anything else, costs a
        // cache lookup a call that a string does not need.
        private static string Text(PSMemberInfoCollection<PSPropertyInfo> properties, string name)
        {
            object value = properties[name]?.Value;
            if (value is PSObject wrapped) value = wrapped.BaseObject;
            return value == null ? null : value as string ?? LanguagePrimitives.ConvertTo<string>(value);
        }
    }
}
