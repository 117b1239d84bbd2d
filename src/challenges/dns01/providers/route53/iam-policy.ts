/**
 * The least-privilege IAM policy for the route53 provider, made from the configured certificates:
 * the key may change only TXT records named `_acme-challenge.<name>` (or, for a name delegated by
 * CNAME, the end of its chain) in its zone, by UPSERT and
 * DELETE (condition keys `route53:ChangeResourceRecordSetsNormalizedRecordNames`,
 * `route53:ChangeResourceRecordSetsRecordTypes`, `route53:ChangeResourceRecordSetsActions`); read
 * the zone's record sets (to keep other TXT values); poll its changes; and find the zone by name
 * only when no `hostedZoneId` is configured.
 */

import type { IamAction } from '../../../../plugins/plugin.js';

/** One route53 solver instance and the names its certificates prove with it. */
export interface Route53PolicyInput {
  /** The IAM actions the plug-in declares for this instance (`plugin.ts`: what its code calls). */
  actions: readonly IamAction[];
  /** The solver's name in the configuration (for the statement ids). */
  solver: string;
  hostedZoneId?: string;
  /** Certificate names answered by this solver (`*.example.com` stands for `example.com`). */
  names: readonly string[];
  /**
   * Where the TXT records of those names are written, when known: `_acme-challenge.<name>`, or the
   * end of its CNAME chain for a delegated name. The policy names these instead of `names`.
   */
  recordNames?: readonly string[];
  /**
   * For a solver no certificate names (`names` empty): the names proved by dns-persist-01, whose
   * `_validation-persist` records `dns-persist record --apply --solver` writes through it.
   */
  persistNames?: readonly string[];
}

/** An IAM policy document (the parts certpilot writes). */
export interface IamPolicy {
  Version: '2012-10-17';
  Statement: {
    Sid: string;
    Effect: 'Allow';
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string[]>>;
  }[];
}

/**
 * The record name as the condition key compares it: lower case, no trailing dot (AWS "normalized
 * record names"; `*` would be `\052`, but `_acme-challenge` names never hold one).
 */
export function normalizedRecordName(name: string): string {
  return `_acme-challenge.${name.replace(/^\*\./, '').toLowerCase().replace(/\.$/, '')}`;
}

function sidPart(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9]/g, '');
  return cleaned.length > 0 ? cleaned.charAt(0).toUpperCase() + cleaned.slice(1) : 'Zone';
}

/** Statement ids by action (stable, so a policy diff shows what changed). */
const SIDS: Readonly<Record<string, string>> = {
  'route53:ChangeResourceRecordSets': 'ChangeAcmeChallengeTxt',
  'route53:ListResourceRecordSets': 'ReadRecordSets',
  'route53:GetChange': 'PollChanges',
  'route53:ListHostedZonesByName': 'FindZoneByName',
};

const sidOf = (action: string): string => SIDS[action] ?? sidPart(action.replace(/^[a-z0-9-]+:/, ''));

/**
 * Builds the policy for the given solvers (the `certpilot route53 policy` output) from the actions
 * each declares: actions on `hosted-zone` get one statement per solver on its zone (the
 * `acme-challenge-txt` scope adds the record name, type and action conditions); actions on
 * `change` and `*` one statement each, shared.
 */
export function buildRoute53Policy(inputs: readonly Route53PolicyInput[]): IamPolicy {
  const statements: IamPolicy['Statement'] = [];
  const shared = new Map<string, IamPolicy['Statement'][number]>();
  for (const input of inputs) {
    const zone = input.hostedZoneId ? `arn:aws:route53:::hostedzone/${input.hostedZoneId.replace(/^\/hostedzone\//, '')}` : 'arn:aws:route53:::hostedzone/*';
    const names = [...new Set(input.recordNames !== undefined ? input.recordNames.map((n) => n.toLowerCase().replace(/\.$/, '')) : input.names.map(normalizedRecordName))].sort();
    for (const a of input.actions) {
      if (a.resource !== 'hosted-zone') {
        if (!shared.has(a.action)) shared.set(a.action, { Sid: sidOf(a.action), Effect: 'Allow', Action: a.action, Resource: a.resource === 'change' ? 'arn:aws:route53:::change/*' : '*' });
        continue;
      }
      statements.push({
        Sid: `${sidOf(a.action)}${sidPart(input.solver)}`,
        Effect: 'Allow',
        Action: a.action,
        Resource: zone,
        ...(a.scope === 'acme-challenge-txt'
          ? {
              Condition: {
                'ForAllValues:StringEquals': {
                  'route53:ChangeResourceRecordSetsNormalizedRecordNames': names,
                  'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
                  'route53:ChangeResourceRecordSetsActions': ['UPSERT', 'DELETE'],
                },
              },
            }
          : {}),
      });
    }
  }
  // Change polling before zone finding, as the policy always read.
  const order = (s: IamPolicy['Statement'][number]): number => (s.Resource === '*' ? 1 : 0);
  statements.push(...[...shared.values()].sort((a, b) => order(a) - order(b)));
  return { Version: '2012-10-17', Statement: statements };
}
