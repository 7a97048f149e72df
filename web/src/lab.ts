// What several pages know of the lab's samples: the types a sample may be, and the samples by name
// for lists and choices. Kept apart from pages/samples.tsx (which shows quality's nonconformances and
// certificates), so that the pages that name samples import it without importing each other.
import { useNames } from './ui';

export const SAMPLE_TYPES = ['wafer', 'die', 'powder', 'film', 'bulk', 'solution', 'other'];

export interface SampleName {
  id: string;
  name: string;
  barcode: string | null;
}

// A sample's name and its barcode, where a barcode tells samples of one name apart.
export const withBarcode = (s: SampleName) => (s.barcode ? `${s.name} (${s.barcode})` : s.name);

// The lab's samples (useNames), named by `label` (their name by default).
export function useSamples(label?: (s: SampleName) => string) {
  return useNames<SampleName>('/api/samples', label);
}
