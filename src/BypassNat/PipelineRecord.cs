using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;

namespace BypassNat.Commands
{
    /// <summary>
    /// Reads a piped record's fields as PowerShell's binding by property name would: any property
    /// whose name is a field's (in any case), its value converted to text as the binder converts it
    /// to a [string] parameter (a [string[]] for AllowedSource); a missing property is no value. Where
    /// the binder of a compiled cmdlet silently leaves a field empty (a list where one value is
    /// expected, a value that cannot become text), this says so as a problem of the row.
    /// </summary>
    internal static class PipelineRecord
    {
        public const string InvalidValue = "BypassNat.InvalidValue";

        private static readonly string[] TextFields =
        {
            nameof(ForwardInput.Name), nameof(ForwardInput.Protocol), nameof(ForwardInput.ExternalPort), nameof(ForwardInput.BypassAddress),
            nameof(ForwardInput.BypassPort), nameof(ForwardInput.InternalAddress), nameof(ForwardInput.InternalPort), nameof(ForwardInput.SourceNat),
            nameof(ForwardInput.Comment), nameof(ForwardInput.Enabled), nameof(ForwardInput.PublicAddress),
        };

        /// <summary>The record set's way: every field read here; a value that is no text is a problem of the row.</summary>
        public static ForwardInput Read(PSObject record, int row, List<ForwardIssue> issues)
        {
            if (record == null) return new ForwardInput();
            PSMemberInfoCollection<PSPropertyInfo> properties = record.Properties;
            return new ForwardInput
            {
                Name = Text(properties, nameof(ForwardInput.Name), row, issues),
                Protocol = Text(properties, nameof(ForwardInput.Protocol), row, issues),
                ExternalPort = Text(properties, nameof(ForwardInput.ExternalPort), row, issues),
                BypassAddress = Text(properties, nameof(ForwardInput.BypassAddress), row, issues),
                BypassPort = Text(properties, nameof(ForwardInput.BypassPort), row, issues),
                InternalAddress = Text(properties, nameof(ForwardInput.InternalAddress), row, issues),
                InternalPort = Text(properties, nameof(ForwardInput.InternalPort), row, issues),
                SourceNat = Text(properties, nameof(ForwardInput.SourceNat), row, issues),
                Comment = Text(properties, nameof(ForwardInput.Comment), row, issues),
                Enabled = Text(properties, nameof(ForwardInput.Enabled), row, issues),
                PublicAddress = Text(properties, nameof(ForwardInput.PublicAddress), row, issues),
                AllowedSource = Sources(properties[nameof(ForwardInput.AllowedSource)]?.Value, row, issues),
            };
        }

        /// <summary>
        /// The fields set's way, after PowerShell bound the fields: a field it left empty although the
        /// record has a value for it is a value it could not take (it says nothing of it itself).
        /// </summary>
        public static void CheckDropped(PSObject record, ForwardInput bound, int row, List<ForwardIssue> issues)
        {
            if (record == null) return;
            PSMemberInfoCollection<PSPropertyInfo> properties = record.Properties;
            foreach (string field in TextFields)
            {
                if (Bound(bound, field) != null || properties[field]?.Value == null) continue;
                int before = issues.Count;
                Text(properties, field, row, issues);
                if (issues.Count == before)
                    issues.Add(new ForwardIssue(InvalidValue, row, field, Describe(properties[field].Value), "PowerShell could not bind it as text"));
            }
        }

        // A CSV cell is a string already: no conversion, and no lookup in LanguagePrimitives' cache.
        private static string Text(PSMemberInfoCollection<PSPropertyInfo> properties, string field, int row, List<ForwardIssue> issues)
        {
            object value = properties[field]?.Value;
            object inner = value is PSObject wrapped ? wrapped.BaseObject : value;
            if (inner == null || inner is string) return (string)inner;
            if (inner is IEnumerable list)
            {
                int count = list.Cast<object>().Count();
                issues.Add(new ForwardIssue(InvalidValue, row, field, Describe(value), $"a list of {count} value(s) where one is expected"));
                return null;
            }

            try
            {
                // As the binder converts: the value as PowerShell sees it, in the current culture.
                return (string)LanguagePrimitives.ConvertTo(value, typeof(string), CultureInfo.CurrentCulture);
            }
            catch (Exception e) when (e is PSInvalidCastException || e is InvalidCastException || e is ArgumentException || e is RuntimeException)
            {
                issues.Add(new ForwardIssue(InvalidValue, row, field, Describe(value), "it cannot be read as text: " + e.Message));
                return null;
            }
        }

        // AllowedSource is a list by nature: one string, or an array of them.
        private static string Sources(object value, int row, List<ForwardIssue> issues)
        {
            object inner = value is PSObject wrapped ? wrapped.BaseObject : value;
            if (inner == null || inner is string) return (string)inner;
            try
            {
                return string.Join(" ", (string[])LanguagePrimitives.ConvertTo(value, typeof(string[]), CultureInfo.CurrentCulture));
            }
            catch (Exception e) when (e is PSInvalidCastException || e is InvalidCastException || e is ArgumentException || e is RuntimeException)
            {
                issues.Add(new ForwardIssue(InvalidValue, row, nameof(ForwardInput.AllowedSource), Describe(value), "it cannot be read as text: " + e.Message));
                return null;
            }
        }

        private static string Bound(ForwardInput input, string field)
        {
            switch (field)
            {
                case nameof(ForwardInput.Name): return input.Name;
                case nameof(ForwardInput.Protocol): return input.Protocol;
                case nameof(ForwardInput.ExternalPort): return input.ExternalPort;
                case nameof(ForwardInput.BypassAddress): return input.BypassAddress;
                case nameof(ForwardInput.BypassPort): return input.BypassPort;
                case nameof(ForwardInput.InternalAddress): return input.InternalAddress;
                case nameof(ForwardInput.InternalPort): return input.InternalPort;
                case nameof(ForwardInput.SourceNat): return input.SourceNat;
                case nameof(ForwardInput.Comment): return input.Comment;
                case nameof(ForwardInput.Enabled): return input.Enabled;
                default: return input.PublicAddress;
            }
        }

        // What the error shows as the value: the list's items, the first few, as PowerShell would write them.
        private static string Describe(object value)
        {
            object inner = value is PSObject wrapped ? wrapped.BaseObject : value;
            if (inner is IEnumerable list && !(inner is string))
            {
                List<object> items = list.Cast<object>().Take(6).ToList();
                return string.Join(" ", items.Take(5).Select(i => SafeText(i))) + (items.Count > 5 ? " ..." : string.Empty);
            }

            return SafeText(value);
        }

        private static string SafeText(object value)
        {
            try
            {
                return value?.ToString() ?? string.Empty;
            }
            catch (Exception)
            {
                return "(" + (value is PSObject wrapped ? wrapped.BaseObject : value).GetType().Name + ")";
            }
        }
    }
}
